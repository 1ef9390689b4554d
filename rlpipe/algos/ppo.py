"""Proximal Policy Optimization (Schulman et al., 2017), as in CleanRL's ppo.py.

Per rollout: GAE advantages (the loop computes them), then num_epochs passes of shuffled
minibatches over the clipped surrogate

    ratio      = exp(log pi(a|s) - log pi_old(a|s))
    loss_actor = mean(max(-A ratio, -A clip(ratio, 1 - c, 1 + c)))
    loss_value = mean((V - R)^2)              (optionally clipped around V_old)
    loss       = loss_actor - ent_coef * entropy + vf_coef * loss_value

The value term is SB3's (vf_coef x MSE); CleanRL's is 0.5 x vf_coef x MSE, so its vf_coef 0.5
is 0.25 here.

with optional advantage normalisation, gradient-norm clipping, learning-rate annealing and
early stopping on approximate KL. `update` returns statistics as device tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from rlpipe.algos.base import Agent, optimizer_step
from rlpipe.algos.nets.actor_critic import ActorCritic
from rlpipe.algos.nets.precision import set_precision
from rlpipe.buffers import RolloutBuffer
from rlpipe.envs import EnvShapes
from rlpipe.spec.schema import A2CSpec, PPOSpec, Spec


class PPO(Agent):
    """PPO for discrete or continuous actions, on vector observations or Atari frames."""

    metric_columns = cast("tuple[str, ...]", (
        "loss_actor", "loss_critic", "entropy", "approx_kl", "clip_fraction", "lr"
    ))  # fmt: skip

    if TYPE_CHECKING:
        spec: PPOSpec | A2CSpec

    def __init__(self, spec: Spec, shapes: EnvShapes, device: torch.device) -> None:
        super().__init__(spec.algorithm, shapes, device, spec.env.normalize_obs)
        self.discrete = shapes.discrete
        self.action_low: tuple[float, ...] | float
        self.action_high: tuple[float, ...] | float
        self.action_low, self.action_high = shapes.action_bounds or (-np.inf, np.inf)
        algo = self.spec
        self.net = ActorCritic(
            shapes, algo.actor, algo.critic, algo.shared_network, algo.log_std_init, algo.ortho_init
        ).to(device)
        set_precision(algo.precision, self.net)
        self.optimizer = self._make_optimizer()

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.spec.lr, eps=1e-5)

    # ------------------------------------------------------------------ acting

    @torch.no_grad()
    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled actions, their log-probabilities and V(s) for preprocessed observations."""
        return self.net.sample(x)

    @torch.no_grad()
    def value(self, x: torch.Tensor) -> torch.Tensor:
        """V(s) of preprocessed observations."""
        return self.net.value(x)

    def env_actions(self, actions: torch.Tensor) -> np.ndarray:
        """Actions as the env takes them: Gaussian samples clipped to the env's bounds."""
        actions = actions.cpu().numpy()
        return actions if self.discrete else np.clip(actions, self.action_low, self.action_high)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of raw observations from the env."""
        x = self.prepare(obs)
        actions = self.net.mode(x) if deterministic else self.net.sample(x)[0]
        return self.env_actions(actions)

    # ------------------------------------------------------------------ learning

    def set_learning_rate(self, frame: int) -> torch.Tensor:
        """The spec's learning rate for data collected up to `frame` (annealed to 0 at
        schedule_frames, if enabled); returns the rate in use."""
        lr = self.spec.learning_rate(frame)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return torch.tensor(lr, device=self.device)

    def losses(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        old_logprobs: torch.Tensor,
        old_values: torch.Tensor,
        advantages: torch.Tensor,
        returns: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The clipped surrogate, value and entropy terms of one minibatch."""
        algo = cast("PPOSpec", self.spec)
        logprobs, entropy, values = self.net.evaluate(obs, actions)
        log_ratio = logprobs - old_logprobs
        ratio = log_ratio.exp()
        if algo.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        clipped = ratio.clamp(1 - algo.clip_coef, 1 + algo.clip_coef)
        loss_actor = torch.max(-advantages * ratio, -advantages * clipped).mean()
        if algo.clip_value_loss:
            values_clipped = old_values + (values - old_values).clamp(
                -algo.clip_coef, algo.clip_coef
            )
            loss_value = torch.max(
                (values - returns).square(), (values_clipped - returns).square()
            ).mean()
        else:
            loss_value = (values - returns).square().mean()
        entropy = entropy.mean()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean()
            clip_fraction = ((ratio - 1).abs() > algo.clip_coef).float().mean()
        return {
            "loss": loss_actor - algo.ent_coef * entropy + algo.vf_coef * loss_value,
            "loss_actor": loss_actor,
            "loss_critic": loss_value,
            "entropy": entropy,
            "approx_kl": approx_kl,
            "clip_fraction": clip_fraction,
        }

    def step(self, loss: torch.Tensor) -> None:
        """One optimiser step on loss, with gradient-norm clipping if set."""
        optimizer_step(self.optimizer, loss, self.net.parameters(), self.spec.max_grad_norm)

    def update(
        self,
        rollout: RolloutBuffer,
        advantages: torch.Tensor,
        returns: torch.Tensor,
        generator: torch.Generator,
        frame: int,
    ) -> dict[str, torch.Tensor]:
        """num_epochs passes of minibatch updates over one rollout collected from `frame` on;
        mean statistics."""
        lr = self.set_learning_rate(frame)
        fields = (rollout.flat("obs"), rollout.flat("actions"), rollout.flat("logprobs"),
                  rollout.flat("values"), advantages.flatten(), returns.flatten())  # fmt: skip
        sums: dict[str, torch.Tensor] = {}
        count = 0
        for _ in range(cast("PPOSpec", self.spec).num_epochs):
            for index in rollout.minibatches(cast("PPOSpec", self.spec).batch_size, generator):
                terms = self.losses(*(field[index] for field in fields))
                self.step(terms.pop("loss"))
                self.updates += 1
                count += 1
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0) + value.detach()
            if cast("PPOSpec", self.spec).target_kl is not None and terms["approx_kl"] > cast(
                "float", cast("PPOSpec", self.spec).target_kl
            ):
                break
        return {key: value / count for key, value in sums.items()} | {"lr": lr}

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self, with_optimizers: bool = True) -> dict[str, Any]:
        """Weights (and optimiser state) of the agent."""
        state: dict[str, Any] = {"net": self.net.state_dict(), "updates": self.updates}
        self._norm_state(state)
        if with_optimizers:
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved (the optimiser only if present)."""
        self.net.load_state_dict(state["net"])
        self.updates = state["updates"]
        self._load_norm_state(state)
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
