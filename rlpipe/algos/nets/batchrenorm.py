"""Batch Renormalization (Ioffe 2017), as CrossQ uses it in its critics (and actor)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn


class BatchRenorm(nn.Module):
    """Batch Renormalization (Ioffe 2017) over dim 0 of (N, num_features) inputs, as in CrossQ.

    Train mode normalises with the batch statistics and corrects towards the running ones:
    ``x_hat = (x - mean_B) / std_B * r + d`` with ``r = clamp(std_B / std_R, 1/r_max, r_max)``
    and ``d = clamp((mean_B - mean_R) / std_R, -d_max, d_max)``, both without gradient.
    While ``num_batches_tracked < warmup_steps`` it is plain batch norm (r = 1, d = 0).
    Eval mode normalises with the running statistics. ``momentum`` follows PyTorch:
    ``running = (1 - momentum) * running + momentum * batch`` (PyTorch 0.01 == Flax 0.99).
    Decision: ``running_var`` tracks the UNBIASED batch variance (as ``nn.BatchNorm1d``);
    the normalisation itself uses the biased one. The warm-up switch is a ``torch.where``
    on a tensor, so the forward pass has no host sync and can be compiled or graph-captured.
    """

    if TYPE_CHECKING:
        running_mean: torch.Tensor
        running_var: torch.Tensor
        num_batches_tracked: torch.Tensor

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.01,
        eps: float = 1e-3,
        r_max: float = 3.0,
        d_max: float = 5.0,
        warmup_steps: int = 100_000,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.momentum = momentum
        self.eps = eps
        self.r_max = r_max
        self.d_max = d_max
        self.warmup_steps = warmup_steps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the renormalised, affinely transformed input, in the dtype of the statistics."""
        x = x.to(self.running_mean.dtype)  # bf16 activations (autocast) back to fp32 statistics
        running_std = torch.sqrt(self.running_var + self.eps)
        if not self.training:
            x_hat = (x - self.running_mean) / running_std
            return self.weight * x_hat + self.bias

        n = x.shape[0]
        if n < 2:
            raise ValueError(f"BatchRenorm needs more than 1 sample per batch to train, got {n}")
        batch_var, batch_mean = torch.var_mean(x, dim=0, correction=0)
        batch_std = torch.sqrt(batch_var + self.eps)
        r = torch.clamp(batch_std / running_std, 1.0 / self.r_max, self.r_max).detach()
        d = torch.clamp(
            (batch_mean - self.running_mean) / running_std, -self.d_max, self.d_max
        ).detach()
        warming_up = self.num_batches_tracked < self.warmup_steps
        r = torch.where(warming_up, torch.ones_like(r), r)
        d = torch.where(warming_up, torch.zeros_like(d), d)
        x_hat = (x - batch_mean) / batch_std * r + d

        with torch.no_grad():
            unbiased_var = batch_var * (n / (n - 1))
            self.running_mean.lerp_(batch_mean, self.momentum)
            self.running_var.lerp_(unbiased_var, self.momentum)
            self.num_batches_tracked.add_(1)
        return self.weight * x_hat + self.bias

    def extra_repr(self) -> str:
        """Return the constructor arguments for printing."""
        return (
            f"{self.num_features}, momentum={self.momentum}, eps={self.eps}, "
            f"r_max={self.r_max}, d_max={self.d_max}, warmup_steps={self.warmup_steps}"
        )


@contextmanager
def in_mode(module: nn.Module, training: bool) -> Iterator[nn.Module]:
    """Run a block with module in train (or eval) mode; its previous mode comes back after.

    What the mode changes here is BatchRenorm: train mode normalises with batch statistics
    and updates the running ones, eval mode uses the running statistics and leaves them be.
    """
    was_training = module.training
    module.train(training)
    try:
        yield module
    finally:
        module.train(was_training)
