"""Evaluation episodes of the evaluation (deterministic) policy, as training runs them.

`rlpipe eval` of a finished run's weights is rlpipe/evaluation.py, outside the training code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from rlpipe.errors import RlpipeError

if TYPE_CHECKING:
    from gymnasium.vector import VectorEnv
    from numpy.typing import NDArray

    class Actor(Protocol):
        """What evaluation needs of a policy: actions for a batch of observations."""

        def act(self, obs: NDArray[Any], deterministic: bool = False) -> NDArray[Any]: ...


EVAL_SEED_OFFSET = 1_000_003  # eval envs never share a seed with training envs
EVAL_SEED_STRIDE = 1_000_000
"""Eval episodes per training seed before two seeds' evaluation seeds would overlap."""
MAX_EVAL_STEPS = 1_000_000
"""Most env steps one evaluation may take: an episode that has not ended by then never will
within any time a user waits (no env in the suite has episodes of more than 1000 steps)."""


def eval_seed(seed: int) -> int:
    """The env seed of a training seed's first eval episode (episode i gets eval_seed + i).

    Each training seed has its own block of EVAL_SEED_STRIDE eval seeds, so two seeds of a
    run are never scored on the same starting states (with seed + offset, seeds 0 and 1
    shared 9 of 10 eval episodes, and their eval returns were correlated).
    """
    return EVAL_SEED_OFFSET + seed * EVAL_SEED_STRIDE


def evaluate(agent: Actor, envs: VectorEnv, seed: int) -> float:
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
        for _ in range(MAX_EVAL_STEPS):
            obs, rewards, terminated, truncated, _ = envs.step(agent.act(obs, deterministic=True))
            returns += np.where(done, 0.0, rewards)
            done |= terminated | truncated
            if done.all():
                return float(returns.mean())
    raise RlpipeError(
        f"an evaluation episode ran {MAX_EVAL_STEPS:,} steps without ending; give the env a "
        "time limit (env.max_episode_steps)"
    )
