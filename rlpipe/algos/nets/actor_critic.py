"""The actor-critic network of PPO and A2C: MLP or Nature CNN, shared or separate, any action."""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Normal

from rlpipe.algos.nets.cnn import NatureCNN
from rlpipe.algos.nets.mlp import ACTIVATIONS, mlp, orthogonal_init_
from rlpipe.envs import EnvShapes
from rlpipe.spec.schema import NetSpec


def encoder(shapes: EnvShapes, net: NetSpec) -> tuple[nn.Module, int]:
    """The feature extractor: Nature CNN (images) or flatten, then net's hidden layers."""
    if shapes.image:
        first: nn.Module = NatureCNN(shapes.obs_shape[0])
        width = NatureCNN.out_dim
    else:
        first, width = nn.Flatten(), int(np.prod(shapes.obs_shape))
    if not net.hidden:
        return first, width
    # mlp's output layer is the last hidden layer here; its activation is added after it.
    body = mlp(width, net.hidden[-1], net.hidden[:-1], net.activation)
    return nn.Sequential(first, body, ACTIVATIONS[net.activation]()), net.hidden[-1]


def _keep_default_init(module: nn.Module, gain: float) -> nn.Module:
    """Leave module with PyTorch's default initialisation (ortho_init false)."""
    return module


class ActorCritic(nn.Module):
    """Policy and value function; categorical or diagonal Gaussian (state-independent std).

    With ortho_init, initialisation follows the PPO implementation details (Huang et al.,
    2022) and SB3: orthogonal weights with gain sqrt(2) in hidden layers, 0.01 on the policy
    head, 1 on the value head; without it, PyTorch's default initialisation throughout.
    """

    def __init__(
        self,
        shapes: EnvShapes,
        actor: NetSpec,
        critic: NetSpec,
        shared: bool,
        log_std_init: float | None,
        ortho_init: bool = True,
    ) -> None:
        super().__init__()
        self.discrete = shapes.discrete
        self.actor_body, actor_width = encoder(shapes, actor)
        if shared:
            self.critic_body, critic_width = self.actor_body, actor_width
        else:
            self.critic_body, critic_width = encoder(shapes, critic)
        self.shared = shared
        init = orthogonal_init_ if ortho_init else _keep_default_init
        init(self.actor_body, math.sqrt(2))
        init(self.critic_body, math.sqrt(2))
        self.policy_head = init(nn.Linear(actor_width, shapes.action_dim), 0.01)
        self.value_head = init(nn.Linear(critic_width, 1), 1.0)
        if not self.discrete:
            start = 0.0 if log_std_init is None else log_std_init
            self.log_std = nn.Parameter(torch.full((shapes.action_dim,), start))

    def _features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        actor_features = self.actor_body(obs)
        critic_features = actor_features if self.shared else self.critic_body(obs)
        return actor_features, critic_features

    def _distribution(self, actor_features: torch.Tensor) -> Distribution:
        # No argument validation: its checks (a host sync each) cost PPO a few percent of its
        # time per env step, and the parameters here are finite by construction (a NaN loss
        # stops the run at the next log point).
        out = self.policy_head(actor_features)
        if self.discrete:
            return Categorical(logits=out, validate_args=False)
        return Normal(out, self.log_std.exp().expand_as(out), validate_args=False)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s), shape (B,)."""
        return cast("torch.Tensor", self.value_head(self.critic_body(obs))).squeeze(-1)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A sampled action, its log-probability and V(s) for each observation."""
        actor_features, critic_features = self._features(obs)
        distribution = self._distribution(actor_features)
        action = distribution.sample()
        return (
            action,
            self._log_prob(distribution, action),
            self.value_head(critic_features).squeeze(-1),
        )

    def evaluate(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability of given actions, the policy's entropy and V(s), each (B,)."""
        actor_features, critic_features = self._features(obs)
        distribution = self._distribution(actor_features)
        entropy = distribution.entropy()
        if not self.discrete:
            entropy = entropy.sum(-1)
        value = self.value_head(critic_features).squeeze(-1)
        return self._log_prob(distribution, actions), entropy, value

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        """The most probable action (argmax, or the Gaussian mean)."""
        out = cast("torch.Tensor", self.policy_head(self.actor_body(obs)))
        return out.argmax(-1) if self.discrete else out

    def _log_prob(self, distribution: Distribution, actions: torch.Tensor) -> torch.Tensor:
        log_prob = distribution.log_prob(actions)
        return log_prob if self.discrete else log_prob.sum(-1)
