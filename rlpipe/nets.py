"""Network builders: MLPs (plain, LayerNorm, BatchRenorm) and the Nature DQN encoder."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
NORMS = ("none", "layer", "batch_renorm")


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
        """Return the renormalised, affinely transformed input."""
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


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int],
    activation: str = "relu",
    norm: str = "none",
    renorm: dict | None = None,
) -> nn.Sequential:
    """Return an MLP; ``norm`` is "none", "layer" (Linear-LayerNorm-act) or "batch_renorm".

    "batch_renorm" is the CrossQ critic layout: BatchRenorm on the input, then
    Linear-act-BatchRenorm per hidden layer, then the output Linear; ``renorm`` holds the
    BatchRenorm keyword arguments and is ignored by the other norms.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {list(NORMS)}")
    act = ACTIVATIONS[activation]
    renorm_kwargs = renorm or {}

    layers: list[nn.Module] = []
    if norm == "batch_renorm":
        layers.append(BatchRenorm(in_dim, **renorm_kwargs))
    width = in_dim
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if norm == "layer":
            layers.append(nn.LayerNorm(size))
        layers.append(act())
        if norm == "batch_renorm":
            layers.append(BatchRenorm(size, **renorm_kwargs))
        width = size
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class NatureCNN(nn.Module):
    """Nature DQN encoder: uint8 (N, 4, 84, 84) frames to 512 features."""

    out_dim = 512

    def __init__(self, in_channels: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, self.out_dim),
            nn.ReLU(),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Return (N, 512) features of frames scaled from [0, 255] to [0, 1]."""
        return self.net(frames.float() / 255.0)


def orthogonal_init_(module: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Return ``module`` with every Linear/Conv2d inside it orthogonally initialised in place."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(layer.weight, gain)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, bias)
    return module
