"""The on-policy loop (PPO, A2C): rollout, GAE, update, log.

Rows are logged between rollouts, at the first rollout that reaches each log_interval; the
last rollout is cut short so that no more than max_frame frames are used (up to
num_envs - 1 more when max_frame is not a multiple of num_envs).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from rlpipe.algos.normalize import ObsNormalizer
from rlpipe.buffers import RolloutBuffer
from rlpipe.envs import learning_terminals
from rlpipe.loops.seedloop import SeedLoop
from rlpipe.loops.session import SeedSession

if TYPE_CHECKING:
    from rlpipe.algos.ppo import PPO
    from rlpipe.spec.schema import A2CSpec, PPOSpec


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
        self.stats.update(self.returns)
        scaled = rewards / np.sqrt(self.stats.var.item() + self.stats.eps)
        self.returns[dones] = 0.0
        return cast("np.ndarray", np.clip(scaled, -self.clip, self.clip))

    def state_dict(self) -> dict[str, Any]:
        """Running statistics and the per-env discounted returns (tensors: checkpoints load
        with weights_only)."""
        return {"stats": self.stats.state_dict(), "returns": torch.from_numpy(self.returns.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved."""
        self.stats.load_state_dict(state["stats"])
        self.returns = state["returns"].numpy().astype(np.float64)


class OnPolicySession(SeedSession):
    """Rollout-based training of one seed."""

    if TYPE_CHECKING:
        agent: PPO

    def setup(self) -> None:
        """The rollout buffer and, if the spec normalises rewards, the reward scaler."""
        algo, shapes = cast("PPOSpec | A2CSpec", self.spec.algorithm), self.shapes
        self.rollout = RolloutBuffer(
            algo.num_steps,
            self.envs.num_envs,
            shapes.obs_shape,
            shapes.action_shape,
            self.job.device,
            obs_dtype=torch.uint8 if shapes.image else torch.float32,
            action_dtype=torch.long if shapes.discrete else torch.float32,
        )
        self.reward_scaler = (
            RewardScaler(self.envs.num_envs, algo.gamma) if algo.normalize_reward else None
        )

    def checkpoint_parts(self) -> dict[str, Any]:
        """The reward scaler's state (rollouts never span a checkpoint)."""
        scaler = self.reward_scaler
        return {"reward_scaler": scaler.state_dict() if scaler is not None else None}

    def restore(self, saved: dict[str, Any]) -> None:
        """Restore the reward scaler."""
        if self.reward_scaler is not None:
            self.reward_scaler.load_state_dict(saved["reward_scaler"])

    def _bootstrap_truncated(
        self, rewards: np.ndarray, cut: np.ndarray, info: dict[str, Any]
    ) -> np.ndarray:
        """Fold gamma V(final obs) into the reward of episodes cut by a time limit."""
        agent = self.agent
        final = agent.prepare(np.stack(info["final_obs"][cut]))
        rewards = rewards.copy()
        rewards[cut] += self.spec.algorithm.gamma * agent.value(final).cpu().numpy()
        return cast("np.ndarray", rewards)

    def train(self, loop: SeedLoop, obs: np.ndarray, frame: int) -> int:
        """Collect rollouts and update until max_frame."""
        algo, agent, envs, rollout = (
            cast("PPOSpec | A2CSpec", self.spec.algorithm),
            self.agent,
            self.envs,
            self.rollout,
        )
        max_frame, num_envs = self.spec.env.max_frame, envs.num_envs
        while frame < max_frame:
            rollout_start = frame
            steps = min(algo.num_steps, math.ceil((max_frame - frame) / num_envs))
            rollout.reset()
            for _ in range(steps):
                x = agent.prepare(obs)
                actions, logprobs, values = agent.sample(x)
                obs, rewards, terminated, truncated, info = envs.step(agent.env_actions(actions))
                agent.observe(obs)
                terminal = learning_terminals(terminated, info)
                dones = terminal | truncated
                rewards = rewards.astype(np.float32)
                if self.reward_scaler is not None:
                    rewards = self.reward_scaler(rewards, dones)
                cut = truncated & ~terminal
                if cut.any():
                    rewards = self._bootstrap_truncated(rewards, cut, info)
                rollout.add(x, actions, logprobs, rewards, values, dones)
                loop.episodes_ended(info)
                frame += num_envs
            advantages, returns = rollout.compute_gae(
                agent.value(agent.prepare(obs)), algo.gamma, algo.gae_lambda
            )
            stats = agent.update(rollout, advantages, returns, self.generator, rollout_start)
            loop.stats.add(stats)
            loop.profile_step(frame)
            if loop.log_due(frame):
                loop.log(frame, self.evaluate, self.checkpoint)
        return frame
