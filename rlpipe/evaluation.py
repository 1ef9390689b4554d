"""`rlpipe eval`: a finished run's final weights, N evaluation-policy episodes per seed, for
rlpipe's own runs and parity runs alike (rlpipe/policy.py loads either).

Not training code: a change here re-runs the eval stages, never the train stages.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rlpipe.algos.registry import algorithm
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.loops.evaluate import eval_seed, evaluate
from rlpipe.policy import seed_policy
from rlpipe.rundir import RunFolder, atomic_write_json

if TYPE_CHECKING:
    from rlpipe.spec.schema import Spec

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
    spec: Spec = saved.spec
    episodes = episodes or spec.meta.eval_episodes
    rescale = algorithm(spec.algorithm.name).squashes_actions
    per_seed = []
    for seed in spec.meta.seed_list:
        with contextlib.ExitStack() as stack:
            policy = None
            total = 0.0
            for first in range(0, episodes, EVAL_ENVS_AT_ONCE):
                batch = min(EVAL_ENVS_AT_ONCE, episodes - first)
                env_seed = eval_seed(seed) + first
                envs = make_vec_env(spec.env, env_seed, num_envs=batch, rescale_actions=rescale)
                try:
                    if policy is None:
                        shapes = env_shapes(envs)
                        policy = stack.enter_context(seed_policy(run, seed, shapes, device))
                    total += batch * evaluate(policy, envs, env_seed)
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
