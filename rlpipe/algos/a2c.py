"""Advantage Actor-Critic (Mnih et al., 2016), synchronous, as in Stable-Baselines3's A2C.

One gradient step per rollout of num_steps x num_envs transitions:

    loss_actor = -mean(A log pi(a|s))            A: n-step (gae_lambda = 1) or GAE advantages
    loss_value = mean((V - R)^2)
    loss       = loss_actor - ent_coef * entropy + vf_coef * loss_value

RMSprop (alpha 0.99, eps 1e-5) by default. Networks, acting and checkpoints are PPO's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch

from rlpipe.algos.ppo import PPO
from rlpipe.buffers import RolloutBuffer

if TYPE_CHECKING:
    from rlpipe.spec.schema import A2CSpec


class A2C(PPO):
    """A2C: PPO's actor-critic with the plain policy-gradient loss and one step per rollout."""

    metric_columns = ("loss_actor", "loss_critic", "entropy", "lr")

    def _make_optimizer(self) -> torch.optim.Optimizer:
        params, spec = self.net.parameters(), cast("A2CSpec", self.spec)
        if spec.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=spec.lr, alpha=0.99, eps=spec.optimizer_eps)
        return torch.optim.Adam(params, lr=spec.lr, eps=spec.optimizer_eps)

    def update(
        self,
        rollout: RolloutBuffer,
        advantages: torch.Tensor,
        returns: torch.Tensor,
        generator: torch.Generator,
        frame: int,
    ) -> dict[str, torch.Tensor]:
        """One gradient step on the whole rollout collected from `frame` on; its statistics."""
        lr = self.set_learning_rate(frame)
        logprobs, entropy, values = self.net.evaluate(rollout.flat("obs"), rollout.flat("actions"))
        advantages, returns = advantages.flatten(), returns.flatten()
        if self.spec.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        loss_actor = -(advantages * logprobs).mean()
        loss_value = (values - returns).square().mean()
        entropy = entropy.mean()
        self.step(loss_actor - self.spec.ent_coef * entropy + self.spec.vf_coef * loss_value)
        self.updates += 1
        return {
            "loss_actor": loss_actor.detach(),
            "loss_critic": loss_value.detach(),
            "entropy": entropy.detach(),
            "lr": lr,
        }
