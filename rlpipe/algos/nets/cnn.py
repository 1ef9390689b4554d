"""The Nature DQN encoder for stacked Atari frames."""

from __future__ import annotations

import torch
from torch import nn

from rlpipe.algos.nets.precision import MatmulPrecision


class NatureCNN(MatmulPrecision, nn.Module):
    """Nature DQN encoder: uint8 (N, 4, 84, 84) frames to 512 features (bf16 convolutions when
    its `bf16` flag is set)."""

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
        return self.in_precision(self.net, frames.float() / 255.0)
