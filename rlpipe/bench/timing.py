"""What a bench measurement is: the timed window, its result, and how clocks and memory are read."""

from __future__ import annotations

import resource
import sys
from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Window:
    """What to time: frames after learning starts, after a warm-up, on a device."""

    frames: int
    warmup_frames: int
    device: str
    compile: bool
    threads: int
    seed: int = 0


@dataclass(frozen=True)
class BenchResult:
    """One side's timed window."""

    side: str
    frames: int  # env frames in the timed window
    updates: int  # gradient updates in the timed window
    seconds: float
    warmup_s: float  # the warm-up frames after learning starts, compilation included
    peak_host_mb: float
    peak_gpu_mb: float | None

    @property
    def env_fps(self) -> float:
        """Env frames per second in the timed window."""
        return self.frames / self.seconds

    @property
    def updates_per_s(self) -> float:
        """Gradient updates per second in the timed window."""
        return self.updates / self.seconds

    @property
    def ms_per_update(self) -> float:
        """Wall time per gradient update, env stepping included."""
        return 1e3 * self.seconds / max(self.updates, 1)

    def as_dict(self) -> dict[str, Any]:
        """Fields and derived rates, for JSON."""
        return {
            **asdict(self),
            "env_fps": self.env_fps,
            "updates_per_s": self.updates_per_s,
            "ms_per_update": self.ms_per_update,
        }


def sync(device: torch.device) -> None:
    """Wait for queued device work, so a clock reading means the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> tuple[float, float | None]:
    """Peak resident host memory of this process and peak GPU memory allocated, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    host_mb = rss / 2**20 if sys.platform == "darwin" else rss / 2**10
    gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return host_mb, gpu_mb
