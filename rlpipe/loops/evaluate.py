"""Deterministic-policy evaluation: during training, and `rlpipe eval` from a run's weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlpipe.algos.registry import algorithm, build_agent
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.rundir import DamagedRunFile, RunFolder, atomic_write_json

EVAL_SEED_OFFSET = 1_000_003  # eval envs never share a seed with training envs
EVAL_SEED_STRIDE = 1_000_000
"""Eval episodes per training seed before two seeds' evaluation seeds would overlap."""
EVAL_ENVS_AT_ONCE = 16
"""Most eval envs alive at once: more episodes run in successive batches of this many."""


def eval_seed(seed: int) -> int:
    """The env seed of a training seed's first eval episode (episode i gets eval_seed + i).

    Each training seed has its own block of EVAL_SEED_STRIDE eval seeds, so two seeds of a
    run are never scored on the same starting states (with seed + offset, seeds 0 and 1
    shared 9 of 10 eval episodes, and their eval returns were correlated).
    """
    return EVAL_SEED_OFFSET + seed * EVAL_SEED_STRIDE


def evaluate(agent: Any, envs: Any, seed: int) -> float:
    """Mean return of one evaluation-policy episode in each eval env.

    The envs are reset with seed, and so is torch's generator for whatever randomness the
    evaluation policy has (DQN's eval_epsilon): the same weights give the same return, and
    the training run's own random stream is left as it was.
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        obs, _ = envs.reset(seed=seed)
        n = envs.num_envs
        returns, done = np.zeros(n), np.zeros(n, dtype=bool)
        while not done.all():
            obs, rewards, terminated, truncated, _ = envs.step(agent.act(obs, deterministic=True))
            returns += np.where(done, 0.0, rewards)
            done |= terminated | truncated
    return float(returns.mean())


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


def _load(agent: Any, weights: dict[str, Any], path: Path) -> None:
    try:
        agent.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        reason = str(error).split("\n", 1)[0]
        raise DamagedRunFile(
            f"{path} does not hold weights for this run's spec ({reason}); re-train the run "
            "or restore the file"
        ) from None
