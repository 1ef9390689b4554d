"""Running observation normalisation that lives in the agent, so checkpoints carry it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from numpy.typing import NDArray


class ObsNormalizer(nn.Module):
    """Normalise observations by running mean and variance (parallel-variance update).

    It sits in the agent rather than in a gymnasium wrapper: replayed observations are
    normalised with the current statistics at update time (as SB3's VecNormalize does),
    the final observation of an auto-reset episode is treated like any other, and the
    statistics are saved in the agent's state_dict with the weights.
    """

    if TYPE_CHECKING:
        mean: torch.Tensor
        var: torch.Tensor
        count: torch.Tensor

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(eps, dtype=torch.float64))

    @torch.no_grad()
    def update(self, obs: NDArray[np.float32] | NDArray[np.float64] | torch.Tensor) -> None:
        """Fold a batch of raw observations (leading batch dim) into the statistics."""
        if self.mean.device.type == "cpu":
            self._update_in_numpy(np.asarray(obs, dtype=np.float64))
        else:
            self._update_in_torch(torch.as_tensor(obs, device=self.mean.device))

    def _update_in_torch(self, obs: torch.Tensor) -> None:
        """The update as torch operations on the statistics' device (off the CPU)."""
        batch = obs.to(torch.float64).reshape(-1, *self.mean.shape)
        batch_var, batch_mean = torch.var_mean(batch, dim=0, correction=0)
        n = batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        self.var.copy_(
            (self.var * self.count + batch_var * n + delta.square() * self.count * n / total)
            / total
        )
        self.count.copy_(total)

    def _update_in_numpy(self, obs: NDArray[np.float64]) -> None:
        """The same update, in place on the CPU statistics' memory: a dozen torch calls on tiny
        tensors cost PPO about a tenth of its time per env step. The operations and their order
        are the torch update's, and the batch statistics come from torch.var_mean, so the
        results are bit-identical."""
        mean: torch.Tensor | NDArray[np.float64]
        var: torch.Tensor | NDArray[np.float64]
        batch = obs.reshape(-1, *self.mean.shape)
        n = batch.shape[0]
        if n == 1:  # var_mean of one row: the row itself, and zero
            batch_mean, batch_var = batch[0], np.zeros_like(batch[0])
        else:
            var, mean = torch.var_mean(torch.from_numpy(batch), dim=0, correction=0)
            batch_mean, batch_var = mean.numpy(), var.numpy()
        mean, var, count = self.mean.numpy(), self.var.numpy(), self.count.numpy()
        delta = batch_mean - mean
        total = count + n
        mean += delta * n / total
        var[...] = (var * count + batch_var * n + np.square(delta) * count * n / total) / total
        count[...] = total

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Normalised, clipped observations in the input's dtype."""
        scaled = (obs - self.mean) / torch.sqrt(self.var + self.eps)
        return scaled.clamp(-self.clip, self.clip).to(obs.dtype)
