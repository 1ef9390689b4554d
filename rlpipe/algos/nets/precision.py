"""The precision of the networks' matmuls: fp32, or bf16 through torch.autocast.

Under bf16, a network's forward pass runs inside `torch.autocast(dtype=bfloat16)`, so its
Linear and Conv layers multiply in bf16, and its output comes back as fp32: losses,
log-probabilities and the temperature are computed in fp32. Normalisation layers (BatchRenorm,
LayerNorm) take their input as fp32, so their statistics stay fp32; weights, gradients and the
optimisers' state are fp32 throughout (autocast casts copies of the weights, not the weights).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

Precision = Literal["fp32", "bf16"]


class MatmulPrecision:
    """Mixin for an nn.Module whose forward multiplies in bf16 when its `bf16` flag is set."""

    bf16: bool = False

    def in_precision(
        self, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
    ) -> torch.Tensor:
        """forward(x), under bf16 autocast with an fp32 result when `bf16` is set."""
        if not self.bf16:
            return forward(x)
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            out = forward(x)
        return out.float()


def set_precision(precision: Precision, *modules: nn.Module) -> None:
    """Make every MatmulPrecision network inside modules multiply in `precision`."""
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, MatmulPrecision):
                layer.bf16 = precision == "bf16"


class FloatLayerNorm(nn.LayerNorm):
    """LayerNorm whose statistics are in its weights' dtype (fp32) whatever its input's (under
    autocast a bf16 input would keep them bf16)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Layer-normalise x in the weights' dtype."""
        dtype = self.weight.dtype if self.weight is not None else torch.float32
        return super().forward(x.to(dtype))
