"""Soft Actor-Critic (Haarnoja et al., 2018; discrete actions: Christodoulou, 2019).

Twin critics with Polyak-averaged target networks, a tanh-squashed Gaussian (or
categorical) actor, and automatic entropy tuning of alpha. `update` takes one sampled
batch and returns its statistics as device tensors, so the loop never waits on the device.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from rlpipe.algos.base import Agent, adam, optimizer_step, polyak_update
from rlpipe.algos.nets.batchrenorm import in_mode
from rlpipe.algos.nets.mlp import mlp_from_spec
from rlpipe.algos.nets.precision import set_precision
from rlpipe.algos.nets.soft_policies import CategoricalActor, SquashedGaussianActor
from rlpipe.buffers import Batch
from rlpipe.envs import EnvShapes
from rlpipe.spec.schema import CrossQSpec, SACSpec, Spec


class SAC(Agent):
    """Soft Actor-Critic for continuous or discrete actions."""

    metric_columns = ("loss_critic", "loss_actor", "loss_alpha", "alpha", "q_mean", "entropy")
    compiled_methods = ("critic_loss", "actor_loss")

    if TYPE_CHECKING:
        spec: SACSpec | CrossQSpec

    def __init__(self, spec: Spec, shapes: EnvShapes, device: torch.device) -> None:
        super().__init__(spec.algorithm, shapes, device, spec.env.normalize_obs)
        spec = self.spec
        self.discrete = shapes.discrete
        obs_dim = int(np.prod(shapes.obs_shape))
        n = shapes.action_dim
        if self.discrete:
            self.actor: CategoricalActor | SquashedGaussianActor = CategoricalActor(
                obs_dim, n, spec.actor
            )
            critic_in, critic_out = obs_dim, n  # Q(s, .) for every action at once
            self.target_entropy = spec.target_entropy_scale * math.log(n)
        else:
            self.actor = SquashedGaussianActor(obs_dim, n, spec.actor, spec.log_std_bounds)
            critic_in, critic_out = obs_dim + n, 1
            self.target_entropy = -float(n)
        if spec.target_entropy != "auto":
            self.target_entropy = float(spec.target_entropy)
        # The actor rests in eval mode: acting, evaluation and the next actions of the critic
        # target use BatchRenorm's running statistics (and leave them alone); only the
        # actor's own update trains it (see update_actor_and_alpha).
        self.actor.eval()
        self.critics = nn.ModuleList(
            mlp_from_spec(critic_in, critic_out, spec.critic) for _ in range(spec.n_critics)
        )
        set_precision(spec.precision, self.actor, self.critics)
        self.critic_targets = self._make_targets()
        self.log_alpha = torch.tensor(
            math.log(spec.init_alpha), device=device, requires_grad=spec.autotune_alpha
        )
        self.to(device)
        betas = cast("tuple[float, float]", tuple(spec.adam_betas))
        self.actor_optimizer = adam(self.actor.parameters(), spec.actor_lr, device, betas)
        self.critic_optimizer = adam(self.critics.parameters(), spec.critic_lr, device, betas)
        alpha_betas = cast("tuple[float, float]", tuple(spec.alpha_adam_betas))
        self.alpha_optimizer = adam([self.log_alpha], spec.alpha_lr, device, alpha_betas)

    def _make_targets(self) -> nn.ModuleList | None:
        targets = copy.deepcopy(self.critics)
        targets.requires_grad_(False)
        return targets.eval()  # never trained: normalisation layers use running statistics

    def to(self, device: torch.device) -> SAC:
        """Move every network to device."""
        for module in self._modules():
            module.to(device)
        return self

    def _modules(self) -> list[nn.Module]:
        modules = [self.actor, self.critics, self.critic_targets, self.obs_norm]
        return [m for m in modules if m is not None]

    # ------------------------------------------------------------------ acting

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of raw observations from the env."""
        x = self.prepare(obs)
        if deterministic:
            action = self.actor.deterministic(x)
        elif self.discrete:
            action = cast("CategoricalActor", self.actor).sample(x)
        else:
            action = self.actor(x)[0]
        return action.cpu().numpy()

    # ------------------------------------------------------------------ learning

    @property
    def alpha(self) -> torch.Tensor:
        """The entropy temperature, detached."""
        return self.log_alpha.detach().exp()

    def q_values(
        self, critics: nn.ModuleList, obs: torch.Tensor, actions: torch.Tensor | None
    ) -> torch.Tensor:
        """Stacked critic outputs: (n_critics, B) given actions, or (n_critics, B, A) discrete."""
        if self.discrete:
            return torch.stack([q(obs) for q in critics])
        x = torch.cat([obs, cast("torch.Tensor", actions)], dim=-1)
        return torch.stack([q(x).squeeze(-1) for q in critics])

    def next_action(self, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous: a sampled next action and its log-prob. Discrete: probs and log-probs."""
        return cast("tuple[torch.Tensor, torch.Tensor]", self.actor(next_obs))

    def soft_target(
        self, q_next: torch.Tensor, policy: tuple[torch.Tensor, torch.Tensor], batch: Batch
    ) -> torch.Tensor:
        """The Bellman target r + gamma (1 - terminated) (min_i Q_i(s', a') - alpha log pi)."""
        if self.discrete:
            probs, log_probs = policy
            v_next = (probs * (q_next.min(0).values - self.alpha * log_probs)).sum(-1)
        else:
            _, log_prob = policy
            v_next = q_next.min(0).values - self.alpha * log_prob
        return batch.rewards + self.spec.gamma * (1.0 - batch.terminated) * v_next

    def taken(self, q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q of the actions taken: (n_critics, B) from discrete (n_critics, B, A) outputs."""
        if not self.discrete:
            return q
        index = actions.long().view(1, -1, 1).expand(q.shape[0], -1, 1)
        return q.gather(-1, index).squeeze(-1)

    def critic_loss(
        self, obs: torch.Tensor, next_obs: torch.Tensor, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SAC: targets from the Polyak-averaged target critics."""
        with torch.no_grad():
            policy = self.next_action(next_obs)
            next_actions = None if self.discrete else policy[0]
            q_next = self.q_values(
                cast("nn.ModuleList", self.critic_targets), next_obs, next_actions
            )
            target = self.soft_target(q_next, policy, batch)
        q = self.taken(self.q_values(self.critics, obs, batch.actions), batch.actions)
        return 0.5 * (q - target).square().mean(1).sum(), q

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy loss E[alpha log pi - min Q] and the policy's entropy estimate."""
        if self.discrete:
            probs, log_probs = self.actor(obs)
            q = self.q_values(self.critics, obs, None).min(0).values.detach()
            loss = (probs * (self.alpha * log_probs - q)).sum(-1).mean()
            entropy = -(probs * log_probs).sum(-1)
        else:
            actions, log_prob = self.actor(obs)
            q = self.q_values(self.critics, obs, actions).min(0).values
            loss = (self.alpha * log_prob - q).mean()
            entropy = -log_prob
        return loss, entropy.detach()

    def alpha_loss(self, entropy: torch.Tensor) -> torch.Tensor:
        """Temperature loss: raises alpha when entropy is below target, lowers it above."""
        return self.log_alpha * (entropy - self.target_entropy).mean()

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient update of the critics, and every policy_delay of actor and alpha."""
        obs, next_obs = self.prepare(batch.obs), self.prepare(batch.next_obs)
        critic_loss, q = self.critic_loss(obs, next_obs, batch)
        self._step(self.critic_optimizer, critic_loss, self.critics)
        stats = {"loss_critic": critic_loss.detach(), "q_mean": q.detach().mean()}
        if self.updates % self.spec.policy_delay == 0:
            stats |= self.update_actor_and_alpha(obs)
        self.updates += 1
        if (
            self.critic_targets is not None
            and self.updates % cast("SACSpec", self.spec).target_update_interval == 0
        ):
            polyak_update(self.critic_targets, self.critics, cast("SACSpec", self.spec).tau)
        return stats

    def update_actor_and_alpha(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """One actor step, then one temperature step on the same observations.

        The actor is in train mode for its loss (BatchRenorm: batch statistics, running ones
        updated), and the temperature step uses the entropy of that same sample.
        """
        self.critics.requires_grad_(False)  # the actor needs dQ/da, not dQ/d(critic weights)
        try:
            with in_mode(self.actor, training=True):
                actor_loss, entropy = self.actor_loss(obs)
        finally:
            self.critics.requires_grad_(True)
        self._step(self.actor_optimizer, actor_loss, self.actor)
        stats = {"loss_actor": actor_loss.detach(), "entropy": entropy.mean()}
        if self.spec.autotune_alpha:
            alpha_loss = self.alpha_loss(entropy)
            self._step(self.alpha_optimizer, alpha_loss, None)
            with torch.no_grad():
                self.log_alpha.clamp_(self.spec.log_alpha_min, self.spec.log_alpha_max)
            stats["loss_alpha"] = alpha_loss.detach()
        stats["alpha"] = self.alpha
        return stats

    def _step(
        self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module | None
    ) -> None:
        params = None if module is None else module.parameters()
        optimizer_step(optimizer, loss, params, self.spec.max_grad_norm)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self, with_optimizers: bool = True) -> dict[str, Any]:
        """Weights (and optimiser state) of every part of the agent."""
        state: dict[str, Any] = {
            "actor": self.actor.state_dict(),
            "critics": self.critics.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "updates": self.updates,
        }
        if self.critic_targets is not None:
            state["critic_targets"] = self.critic_targets.state_dict()
        self._norm_state(state)
        if with_optimizers:
            state["optimizers"] = {
                "actor": self.actor_optimizer.state_dict(),
                "critic": self.critic_optimizer.state_dict(),
                "alpha": self.alpha_optimizer.state_dict(),
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved (optimisers only if present)."""
        self.actor.load_state_dict(state["actor"])
        self.critics.load_state_dict(state["critics"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.updates = state["updates"]
        if self.critic_targets is not None:
            self.critic_targets.load_state_dict(state["critic_targets"])
        self._load_norm_state(state)
        if "optimizers" in state:
            self.actor_optimizer.load_state_dict(state["optimizers"]["actor"])
            self.critic_optimizer.load_state_dict(state["optimizers"]["critic"])
            self.alpha_optimizer.load_state_dict(state["optimizers"]["alpha"])
