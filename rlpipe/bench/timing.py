"""What a bench measurement is: the timed window, its result, and how clocks and memory are read."""

from __future__ import annotations

import math
import resource
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

import torch

from rlpipe.algos.registry import algorithm
from rlpipe.spec.schema import Spec

if TYPE_CHECKING:
    from rlpipe.spec.schema import A2CSpec, PPOSpec


@dataclass(frozen=True)
class Window:
    """What to time: frames after learning starts, after a warm-up, on a device (on-policy:
    both rounded up to whole rollouts, see `rollout_window`)."""

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
    warmup_s: float  # warm-up after learning starts, compilation included (on-policy: from setup)
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


BF16_SIDE = "rlpipe-bf16"
"""The side that times the same spec with bf16 matmuls (`rlpipe bench --bf16`)."""


def with_precision(spec: Spec, precision: str) -> Spec:
    """The spec with algorithm.precision set (validated like any spec)."""
    document = spec.model_dump(mode="json")
    document["algorithm"]["precision"] = precision
    return Spec.model_validate(document)


def side_spec(side: str, spec: Spec) -> Spec:
    """The spec a bench side trains: bf16 for the bf16 side, else the spec as resolved."""
    return with_precision(spec, "bf16") if side == BF16_SIDE else spec


def rollout_window(spec: Spec, window: Window) -> tuple[Spec, int, int]:
    """An on-policy spec set up for a bench, and the frames where its timed window starts and
    ends: warm-up and timed frames rounded up to whole rollouts, then one rollout more, so
    that the evaluation at a run's last frame falls outside the window."""
    rollout = cast("PPOSpec | A2CSpec", spec.algorithm).num_steps * spec.env.num_envs
    timed_from = math.ceil(window.warmup_frames / rollout) * rollout
    timed_to = timed_from + math.ceil(window.frames / rollout) * rollout
    max_frame = timed_to + rollout
    meta = spec.meta.model_copy(
        update={
            "log_interval": rollout,
            "eval_interval": max_frame,
            "checkpoint_interval": max_frame,
        }
    )
    env = spec.env.model_copy(update={"max_frame": max_frame})
    return spec.model_copy(update={"env": env, "meta": meta}), timed_from, timed_to


def timed_spec(spec: Spec, window: Window) -> Spec:
    """The spec as a bench trains it (on-policy: ending one rollout after the window)."""
    if algorithm(spec.algorithm.name).on_policy:
        return rollout_window(spec, window)[0]
    return spec


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
