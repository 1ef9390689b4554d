"""The soft actor-critics' policies (SAC, CrossQ): a tanh-squashed Gaussian and a categorical."""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rlpipe.algos.nets.mlp import mlp_from_spec
from rlpipe.spec.schema import NetSpec

_LOG_2 = math.log(2.0)


class SquashedGaussianActor(nn.Module):
    """Gaussian policy squashed by tanh into [-1, 1], with a stable log-probability."""

    def __init__(
        self, obs_dim: int, action_dim: int, net: NetSpec, log_std_bounds: tuple[float, float]
    ) -> None:
        super().__init__()
        self.net = mlp_from_spec(obs_dim, 2 * action_dim, net)
        self.log_std_min, self.log_std_max = log_std_bounds

    def _mean_log_std(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action sample and its log-probability (shape (B,))."""
        mean, log_std = self._mean_log_std(obs)
        noise = torch.randn_like(mean)
        pre_tanh = mean + noise * log_std.exp()
        gaussian_log_prob = (-0.5 * noise.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)), stable for large |u|.
        squash_correction = (2.0 * (_LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))).sum(-1)
        return torch.tanh(pre_tanh), gaussian_log_prob - squash_correction

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The mode of the policy: tanh of the mean."""
        return torch.tanh(self._mean_log_std(obs)[0])


class CategoricalActor(nn.Module):
    """Softmax policy over discrete actions; SAC uses its full distribution, not samples."""

    def __init__(self, obs_dim: int, n_actions: int, net: NetSpec) -> None:
        super().__init__()
        self.net = mlp_from_spec(obs_dim, n_actions, net)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Action probabilities and log-probabilities, each (B, n_actions)."""
        log_probs = F.log_softmax(self.net(obs), dim=-1)
        return log_probs.exp(), log_probs

    def sample(self, obs: torch.Tensor) -> torch.Tensor:
        """One sampled action index per observation."""
        return torch.multinomial(self.forward(obs)[0], 1).squeeze(-1)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The most probable action per observation."""
        return cast("torch.Tensor", self.net(obs)).argmax(dim=-1)
