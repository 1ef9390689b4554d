"""The on-policy training loop for one seed (PPO, A2C): rollout, GAE, update, log, checkpoint.

It writes the same run-folder files as the off-policy loop in rlpipe/train.py: metrics.csv
(train.COLUMNS, blank where they do not apply, plus the PPO diagnostics in EXTRA_COLUMNS),
result.json, model.pt and resumable checkpoints, with the same NaN guard and progress
reports. Rows are logged between rollouts, at the first rollout that reaches each
log_interval; the last rollout is cut short so that no more than max_frame frames are used
(up to num_envs - 1 more when max_frame is not a multiple of num_envs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlpipe.algos import build_agent, squashes_actions
from rlpipe.algos.ppo import PPO
from rlpipe.buffers import RolloutBuffer
from rlpipe.envs import env_shapes, learning_terminals, make_vec_env
from rlpipe.normalize import ObsNormalizer
from rlpipe.seedloop import (
    COLUMNS,
    EVAL_SEED_OFFSET,
    SeedLoop,
    SeedProgress,
    evaluate,
    finished_result,
    seed_everything,
)
from rlpipe.spec.schema import Spec

EXTRA_COLUMNS = ("approx_kl", "clip_fraction", "lr")
ON_POLICY_COLUMNS = COLUMNS + EXTRA_COLUMNS


class RewardScaler:
    """Divides rewards by the running std of the discounted return (SB3's VecNormalize).

    Only training rewards are scaled; reported returns come from the env, unscaled.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0) -> None:
        self.gamma = gamma
        self.clip = clip
        self.returns = np.zeros(num_envs)
        self.stats = ObsNormalizer(())

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Scaled rewards; the discounted returns restart where an episode ended."""
        self.returns = self.returns * self.gamma + rewards
        self.stats.update(torch.as_tensor(self.returns))
        scaled = rewards / np.sqrt(self.stats.var.item() + self.stats.eps)
        self.returns[dones] = 0.0
        return np.clip(scaled, -self.clip, self.clip)

    def state_dict(self) -> dict[str, Any]:
        """Running statistics and the per-env discounted returns."""
        return {"stats": self.stats.state_dict(), "returns": self.returns.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved."""
        self.stats.load_state_dict(state["stats"])
        self.returns = state["returns"].copy()


def train_onpolicy(
    spec: Spec,
    seed: int,
    seed_dir: Path,
    device: torch.device,
    resume: bool = False,
    profile: bool = False,
    report: Callable[[SeedProgress], None] = lambda _: None,
    artifact_dir: Path | None = None,
) -> dict[str, Any]:
    """Train one seed of an on-policy spec into seed_dir; returns its result (result.json)."""
    artifact_dir = artifact_dir or seed_dir
    if (done := finished_result(seed_dir, resume)) is not None:
        return done
    algo, meta, max_frame = spec.algorithm, spec.meta, spec.env.max_frame
    seed_everything(seed)
    rescale = squashes_actions(spec)
    envs = make_vec_env(spec.env, seed, training=True, rescale_actions=rescale)
    eval_envs = make_vec_env(
        spec.env, seed + EVAL_SEED_OFFSET, num_envs=meta.eval_episodes, rescale_actions=rescale
    )
    shapes = env_shapes(envs)
    agent: PPO = build_agent(spec, shapes, device)
    num_envs = envs.num_envs
    rollout = RolloutBuffer(
        algo.num_steps,
        num_envs,
        shapes.obs_shape,
        shapes.action_shape,
        device,
        obs_dtype=torch.uint8 if agent.image else torch.float32,
        action_dtype=torch.long if shapes.discrete else torch.float32,
    )
    reward_scaler = RewardScaler(num_envs, algo.gamma) if algo.normalize_reward else None
    generator = torch.Generator(device=device).manual_seed(seed)
    run = SeedLoop(spec, seed, seed_dir, artifact_dir, ON_POLICY_COLUMNS, report, profile, device)
    if (saved := run.resume(resume)) is not None:
        agent.load_state_dict(saved["agent"])
        generator.set_state(saved["rng"]["sampler"])
        if reward_scaler is not None:
            reward_scaler.load_state_dict(saved["reward_scaler"])

    def checkpoint() -> dict[str, Any]:
        return {
            "agent": agent.state_dict(),
            "rng": {"sampler": generator.get_state()},
            "reward_scaler": reward_scaler and reward_scaler.state_dict(),
        }

    def bootstrap_truncated(rewards: np.ndarray, cut: np.ndarray, info: dict) -> np.ndarray:
        """Fold gamma V(final obs) into the reward of episodes cut by a time limit."""
        final = agent.preprocess(np.stack(info["final_obs"][cut]))
        rewards = rewards.copy()
        rewards[cut] += algo.gamma * agent.value(final).cpu().numpy()
        return rewards

    frame = run.state["frame"]
    # Env states are not checkpointed: on resume the interrupted episodes restart, seeded by
    # the frame so that a resumed run is itself reproducible.
    obs = envs.reset(seed=seed + frame)[0]
    with run:
        while frame < max_frame:
            progress_remaining = 1.0 - frame / max_frame
            steps = min(algo.num_steps, math.ceil((max_frame - frame) / num_envs))
            rollout.reset()
            for _ in range(steps):
                x = agent.preprocess(obs)
                actions, logprobs, values = agent.sample(x)
                obs, rewards, terminated, truncated, info = envs.step(agent.env_actions(actions))
                agent.observe(obs)
                terminal = learning_terminals(terminated, info)
                dones = terminal | truncated
                rewards = rewards.astype(np.float32)
                if reward_scaler is not None:
                    rewards = reward_scaler(rewards, dones)
                cut = truncated & ~terminal
                if cut.any():
                    rewards = bootstrap_truncated(rewards, cut, info)
                rollout.add(x, actions, logprobs, rewards, values, dones)
                run.episodes_ended(info)
                frame += num_envs
            advantages, returns = rollout.compute_gae(
                agent.value(agent.preprocess(obs)), algo.gamma, algo.gae_lambda
            )
            run.stats.add(agent.update(rollout, advantages, returns, generator, progress_remaining))
            run.profile_step(frame)
            if run.log_due(frame):
                run.log(frame, lambda: evaluate(agent, eval_envs, seed + EVAL_SEED_OFFSET),
                        checkpoint)  # fmt: skip
    envs.close()
    eval_envs.close()
    return run.finish(frame, agent)
