"""MLPs (plain, LayerNorm, BatchRenorm) built from a NetSpec, and orthogonal initialisation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rlpipe.algos.nets.batchrenorm import BatchRenorm
from rlpipe.algos.nets.precision import FloatLayerNorm, MatmulPrecision
from rlpipe.spec.schema import NetSpec

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
NORMS = ("none", "layer", "batch_renorm")


class MLP(MatmulPrecision, nn.Sequential):
    """A Sequential MLP whose matmuls run in bf16 when its `bf16` flag is set (set_precision)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layers applied in order."""
        return self.in_precision(super().forward, x)


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int],
    activation: str = "relu",
    norm: str = "none",
    renorm: dict[str, Any] | None = None,
) -> MLP:
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
            layers.append(FloatLayerNorm(size))
        layers.append(act())
        if norm == "batch_renorm":
            layers.append(BatchRenorm(size, **renorm_kwargs))
        width = size
    layers.append(nn.Linear(width, out_dim))
    return MLP(*layers)


def mlp_from_spec(in_dim: int, out_dim: int, net: NetSpec) -> MLP:
    """An MLP with the hidden sizes, activation and normalisation of a NetSpec."""
    renorm = net.norm.model_dump(exclude={"type"}) if net.norm.type == "batch_renorm" else None
    return mlp(in_dim, out_dim, net.hidden, net.activation, net.norm.type, renorm)


def orthogonal_init_(module: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Return ``module`` with every Linear/Conv2d inside it orthogonally initialised in place."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(layer.weight, gain)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, bias)
    return module
