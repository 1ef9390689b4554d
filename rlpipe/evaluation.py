"""`rlpipe eval`: a finished run's final weights, N evaluation-policy episodes per seed.

Not training code: a change here re-runs the eval stages, never the train stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlpipe.algos.registry import algorithm, build_agent
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.loops.evaluate import eval_seed, evaluate
from rlpipe.rundir import DamagedRunFile, RunFolder, atomic_write_json

EVAL_ENVS_AT_ONCE = 16
"""Most eval envs alive at once: more episodes run in successive batches of this many."""


def evaluate_run(
    run: RunFolder,
    episodes: int | None = None,
    device: torch.device | None = None,
    output: Path | None = None,
) -> dict[str, Any]:
    """Evaluate every seed's final weights for N deterministic episodes; writes eval.json.

    Episodes run in batches of at most EVAL_ENVS_AT_ONCE envs; episode i of a seed always
    gets env seed eval_seed(seed) + i, so the batching does not change the result.
    """
    device = device or torch.device("cpu")
    saved = run.read_spec()
    spec = saved.spec
    episodes = episodes or spec.meta.eval_episodes
    rescale = algorithm(spec.algorithm.name).squashes_actions
    per_seed = []
    for seed in spec.meta.seed_list:
        weights = run.seed(seed).load_weights(device)
        check_finite_weights(weights, run.seed(seed).model)
        agent = None
        total = 0.0
        for first in range(0, episodes, EVAL_ENVS_AT_ONCE):
            batch = min(EVAL_ENVS_AT_ONCE, episodes - first)
            env_seed = eval_seed(seed) + first
            envs = make_vec_env(spec.env, env_seed, num_envs=batch, rescale_actions=rescale)
            try:
                if agent is None:
                    agent = build_agent(spec, env_shapes(envs), device)
                    _load(agent, weights, run.seed(seed).model)
                total += batch * evaluate(agent, envs, env_seed)
            finally:
                envs.close()
        per_seed.append({"seed": seed, "return_mean": total / episodes})
    result = {
        "spec_hash": saved.spec_hash,
        "episodes_per_seed": episodes,
        "return_mean": sum(s["return_mean"] for s in per_seed) / len(per_seed),
        "per_seed": per_seed,
    }
    atomic_write_json(output or run.eval_file, result)
    return result


def check_finite_weights(weights: Any, path: Path) -> None:
    """Raise DamagedRunFile if any tensor of the weights holds NaN or infinity (a policy that
    acts on them plays NaN actions, or no policy at all)."""
    if isinstance(weights, torch.Tensor):
        if weights.is_floating_point() and not bool(torch.isfinite(weights).all()):
            raise DamagedRunFile(
                f"{path} holds NaN or infinite weights; re-train the run or restore the file"
            )
    elif isinstance(weights, dict):
        for value in weights.values():
            check_finite_weights(value, path)
    elif isinstance(weights, list | tuple):
        for value in weights:
            check_finite_weights(value, path)


def _load(agent: Any, weights: dict[str, Any], path: Path) -> None:
    try:
        agent.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        reason = str(error).split("\n", 1)[0]
        raise DamagedRunFile(
            f"{path} does not hold weights for this run's spec ({reason}); re-train the run "
            "or restore the file"
        ) from None
