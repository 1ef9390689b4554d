"""Replay buffer (off-policy) and rollout buffer (on-policy), preallocated on the device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, cast

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

REPLAY_FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated")


class Batch(NamedTuple):
    """A sampled minibatch of transitions; rewards and terminated are float32 of shape (B,)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor


class ReplayBuffer:
    """Ring buffer of transitions held on ``device``, sampled with one index tensor.

    ``obs`` and ``next_obs`` are stored separately, so a vector env's final observation
    (before its auto-reset) is the ``next_obs`` of the last step of an episode.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        device: torch.device | str = "cpu",
        obs_dtype: torch.dtype = torch.float32,
        action_dtype: torch.dtype = torch.float32,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"replay buffer capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.obs_shape = tuple(obs_shape)
        self.action_shape = tuple(action_shape)
        self.device = torch.device(device)
        self.obs = torch.zeros((capacity, *self.obs_shape), dtype=obs_dtype, device=self.device)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(
            (capacity, *self.action_shape), dtype=action_dtype, device=self.device
        )
        self.rewards = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.terminated = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        """Return the number of transitions stored."""
        return self.size

    def add(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
    ) -> None:
        """Store one vector-env step (leading dim num_envs), overwriting the oldest items.

        Pass ``terminated`` only, NOT ``terminated | truncated``: a truncated episode
        (time limit) still bootstraps from ``next_obs``, so it must not be marked as an end.
        """
        values = dict(
            obs=obs, actions=actions, rewards=rewards, next_obs=next_obs, terminated=terminated
        )
        num_envs = len(obs)
        if num_envs > self.capacity:
            raise ValueError(f"cannot add {num_envs} items to a buffer of capacity {self.capacity}")
        head = min(num_envs, self.capacity - self.pos)
        for name in REPLAY_FIELDS:
            store: torch.Tensor = getattr(self, name)
            step = torch.as_tensor(values[name], dtype=store.dtype, device=self.device)
            if step.shape != (num_envs, *store.shape[1:]):
                raise ValueError(
                    f"{name} has shape {tuple(step.shape)}, expected {(num_envs, *store.shape[1:])}"
                )
            store[self.pos : self.pos + head] = step[:head]
            if head < num_envs:
                store[: num_envs - head] = step[head:]
        self.pos = (self.pos + num_envs) % self.capacity
        self.size = min(self.size + num_envs, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Return ``batch_size`` transitions drawn uniformly, with replacement, from those stored.

        ``generator``, if given, must live on the buffer's device.
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return Batch(*(getattr(self, name)[idx] for name in REPLAY_FIELDS))

    def state_dict(self) -> dict[str, Any]:
        """Return the stored items (on CPU, trimmed to ``len(self)``), position and size."""
        state: dict[str, Any] = {"capacity": self.capacity, "pos": self.pos, "size": self.size}
        for name in REPLAY_FIELDS:
            state[name] = getattr(self, name)[: self.size].cpu().clone()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the items, position and size saved by ``state_dict``."""
        if state["capacity"] != self.capacity:
            raise ValueError(
                f"checkpoint buffer capacity {state['capacity']} != this buffer's {self.capacity}"
            )
        size = state["size"]
        for name in REPLAY_FIELDS:
            store: torch.Tensor = getattr(self, name)
            saved: torch.Tensor = state[name]
            if saved.shape != (size, *store.shape[1:]):
                raise ValueError(
                    f"checkpoint {name} has shape {tuple(saved.shape)}, "
                    f"expected {(size, *store.shape[1:])}"
                )
            store[:size] = saved.to(device=self.device, dtype=store.dtype)
        self.pos = state["pos"]
        self.size = size


class RolloutBuffer:
    """Fixed-length (num_steps, num_envs) on-policy rollout with GAE.

    Conventions (the caller applies them when calling ``add``):
    - ``dones[t]`` is 1 when the episode ended at step t (terminated OR truncated), i.e.
      the value of the next observation must not be bootstrapped through step t.
    - On truncation the caller folds the lost bootstrap into the reward:
      ``rewards[t] = r_t + gamma * bootstrap_value[t]``, with ``bootstrap_value[t]`` the
      value of the final observation when step t was truncated and 0 otherwise.
    """

    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        device: torch.device | str = "cpu",
        obs_dtype: torch.dtype = torch.float32,
        action_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.num_steps = num_steps
        self.num_envs = num_envs
        self.device = torch.device(device)
        steps = (num_steps, num_envs)
        self.obs = torch.zeros((*steps, *obs_shape), dtype=obs_dtype, device=self.device)
        self.actions = torch.zeros((*steps, *action_shape), dtype=action_dtype, device=self.device)
        self.logprobs = torch.zeros(steps, dtype=torch.float32, device=self.device)
        self.rewards = torch.zeros(steps, dtype=torch.float32, device=self.device)
        self.values = torch.zeros(steps, dtype=torch.float32, device=self.device)
        self.dones = torch.zeros(steps, dtype=torch.float32, device=self.device)
        self.step = 0

    def reset(self) -> None:
        """Start a new rollout, overwriting the previous one."""
        self.step = 0

    def add(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        logprobs: ArrayLike,
        rewards: ArrayLike,
        values: ArrayLike,
        dones: ArrayLike,
    ) -> None:
        """Store one vector-env step (see the class docstring for rewards and dones)."""
        if self.step >= self.num_steps:
            raise ValueError(f"rollout buffer is full ({self.num_steps} steps); call reset()")
        fields = dict(
            obs=obs, actions=actions, logprobs=logprobs, rewards=rewards, values=values, dones=dones
        )
        for name, value in fields.items():
            store: torch.Tensor = getattr(self, name)
            store[self.step] = torch.as_tensor(value, dtype=store.dtype, device=self.device)
        self.step += 1

    def __len__(self) -> int:
        """Return the number of transitions stored: steps so far times num_envs."""
        return self.step * self.num_envs

    def flat(self, name: str) -> torch.Tensor:
        """The stored steps of one field, flattened to (steps * num_envs, ...)."""
        return cast("torch.Tensor", getattr(self, name))[: self.step].flatten(0, 1)

    def compute_gae(
        self, last_value: torch.Tensor, gamma: float, gae_lambda: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (advantages, returns), each (steps, num_envs), by GAE(gamma, lambda).

        ``last_value`` is V of the observation after the last stored step, shape (num_envs,).
        A rollout may hold fewer than num_steps steps (the last one of a run).
        """
        advantages = torch.zeros_like(self.rewards[: self.step])
        next_value = torch.as_tensor(last_value, dtype=torch.float32, device=self.device)
        next_advantage = torch.zeros_like(next_value)
        for t in reversed(range(self.step)):
            not_done = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_value * not_done - self.values[t]
            next_advantage = delta + gamma * gae_lambda * not_done * next_advantage
            advantages[t] = next_advantage
            next_value = self.values[t]
        return advantages, advantages + self.values[: self.step]

    def minibatches(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[torch.Tensor]:
        """Yield shuffled index tensors into the flattened (steps * num_envs) rollout.

        Index ``flat(name)`` of any stored field; the last minibatch is smaller when
        ``batch_size`` does not divide the rollout size.
        """
        total = len(self)
        order = torch.randperm(total, generator=generator, device=self.device)
        for start in range(0, total, batch_size):
            yield order[start : start + batch_size]
