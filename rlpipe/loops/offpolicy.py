"""The off-policy loop (SAC, CrossQ, DQN): act, step, store in replay, update, log.

`ReplayTrainer.step` is the inner step, shared with `rlpipe bench` so that the bench times
exactly the schedule training runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch

from rlpipe.algos.base import Agent
from rlpipe.buffers import ReplayBuffer
from rlpipe.envs import EnvShapes, learning_terminals, next_observations
from rlpipe.loops.seedloop import SeedLoop
from rlpipe.loops.session import SeedSession
from rlpipe.spec.schema import Spec

if TYPE_CHECKING:
    from gymnasium.vector import VectorEnv

    from rlpipe.algos.dqn import DQN
    from rlpipe.algos.sac import SAC
    from rlpipe.spec.schema import CrossQSpec, DQNSpec, SACSpec


def replay_buffer_for(
    spec: Spec, shapes: EnvShapes, device: torch.device, capacity: int
) -> ReplayBuffer:
    """The replay buffer for a spec: memory.capacity, or fewer if the run needs fewer."""
    return ReplayBuffer(
        min(spec.memory.capacity, capacity),
        shapes.obs_shape,
        shapes.action_shape,
        device,
        obs_dtype=torch.uint8 if shapes.obs_dtype == np.uint8 else torch.float32,
        action_dtype=torch.long if shapes.discrete else torch.float32,
    )


def updates_due(debt: float, utd: float, frames: int) -> tuple[int, float]:
    """Whole updates owed after `frames` more env frames at `utd` updates per frame, and the
    fraction carried to the next step (so utd < 1 and num_envs > 1 both come out exact)."""
    debt += utd * frames
    return int(debt), debt - int(debt)


class ReplayTrainer:
    """One vector-env step of off-policy training and the gradient updates it makes due."""

    def __init__(
        self,
        spec: Spec,
        agent: Agent,
        envs: VectorEnv,
        buffer: ReplayBuffer,
        generator: torch.Generator,
    ) -> None:
        self.algo = cast("SACSpec | CrossQSpec | DQNSpec", spec.algorithm)
        self.agent, self.envs, self.buffer, self.generator = agent, envs, buffer, generator

    def step(
        self, obs: np.ndarray, frame: int, debt: float
    ) -> tuple[np.ndarray, dict[str, Any], list[dict[str, torch.Tensor]], float]:
        """Act from obs at `frame` (uniformly at random before learning starts), step and store;
        then update as often as is due. Returns the next obs, the step's info, the updates'
        statistics and the update debt carried to the next step."""
        algo, agent, envs = self.algo, self.agent, self.envs
        random_actions = frame < algo.learning_starts
        actions = envs.action_space.sample() if random_actions else agent.act(obs)
        next_obs, rewards, terminated, _, info = envs.step(actions)
        terminal = learning_terminals(terminated, info)
        self.buffer.add(obs, actions, rewards, next_observations(next_obs, info), terminal)
        agent.observe(next_obs)
        stats = []
        if frame + envs.num_envs > algo.learning_starts:
            n_updates, debt = updates_due(debt, algo.utd, envs.num_envs)
            for _ in range(n_updates):
                stats.append(
                    cast("SAC | DQN", agent).update(
                        self.buffer.sample(algo.batch_size, self.generator)
                    )
                )
        return next_obs, info, stats, debt


class OffPolicySession(SeedSession):
    """Replay-based training of one seed."""

    loop_fields: ClassVar[dict[str, Any]] = {"update_debt": 0.0}

    if TYPE_CHECKING:
        agent: SAC | DQN

    def setup(self) -> None:
        """The replay buffer (no larger than the run's frames) and the trainer."""
        self.buffer = replay_buffer_for(
            self.spec, self.shapes, self.job.device, capacity=self.spec.env.max_frame
        )

    def checkpoint_parts(self) -> dict[str, Any]:
        """The replay buffer and the action space's generator (random actions)."""
        action_rng = self.envs.action_space.np_random.bit_generator.state
        return {"buffer": self.buffer.state_dict(), "rng": {"action_space": action_rng}}

    def restore(self, saved: dict[str, Any]) -> None:
        """Restore the replay buffer and the action space's generator."""
        self.buffer.load_state_dict(saved["buffer"])
        self.envs.action_space.np_random.bit_generator.state = saved["rng"]["action_space"]

    def train(self, loop: SeedLoop, obs: np.ndarray, frame: int) -> int:
        """Step, store and update until max_frame."""
        trainer = ReplayTrainer(self.spec, self.agent, self.envs, self.buffer, self.generator)
        learning_starts = cast(
            "SACSpec | CrossQSpec | DQNSpec", self.spec.algorithm
        ).learning_starts
        while frame < self.spec.env.max_frame:
            obs, info, stats, loop.state["update_debt"] = trainer.step(
                obs, frame, loop.state["update_debt"]
            )
            loop.episodes_ended(info)
            frame += self.envs.num_envs
            for update_stats in stats:
                loop.stats.add(update_stats)
            if frame > learning_starts:
                loop.profile_step(frame)
            if loop.log_due(frame):
                loop.log(frame, self.evaluate, self.checkpoint)
        return frame
