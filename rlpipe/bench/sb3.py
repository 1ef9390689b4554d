"""The same spec in Stable-Baselines3 / sb3-contrib, timed over the same window.

The twin (rlpipe.peers.sb3) is the one `rlpipe train --peer sb3` trains: the same network
widths and activation, batch size, update-to-data ratio, learning starts, discount, policy delay,
Adam betas, learning rates, entropy settings, Polyak tau and BatchRenorm settings, with the
actor's BatchRenorm as the spec's actor.norm says; what it cannot mirror is an error naming the
spec field (`sb3_unsupported`). Only its replay buffer is sized for the bench's window.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, cast

import torch

from rlpipe.bench.timing import BenchResult, Window, peak_memory, rollout_window, sync
from rlpipe.errors import RlpipeError
from rlpipe.peers import import_peer_module
from rlpipe.peers.mirror import sb3_unsupported
from rlpipe.spec.schema import Spec

if TYPE_CHECKING:
    from rlpipe.spec.schema import CrossQSpec, DQNSpec, PPOSpec, SACSpec

__all__ = ["bench_sb3", "bench_sb3_rollouts", "sb3_unsupported"]


def bench_sb3(spec: Spec, window: Window) -> BenchResult:
    """Time SB3's learn() over the same window as `bench_rlpipe`."""
    twin = _seeded_twin(spec, window)
    from stable_baselines3.common.callbacks import BaseCallback

    device = torch.device(window.device)
    # The same gymnasium envs and wrappers as rlpipe's, in SB3's vector env.
    env = twin.sb3_env(spec, window.seed)
    algo = cast("SACSpec | CrossQSpec | DQNSpec", spec.algorithm)
    buffer_size = algo.learning_starts + window.warmup_frames + window.frames + 1
    model = twin.build_model(spec, env, window.seed, window.device, buffer_size)
    timed_from = algo.learning_starts + window.warmup_frames
    marks = {algo.learning_starts + 1: "start", timed_from + 1: "timed"}
    marks[timed_from + window.frames + 1] = "end"
    at: dict[str, tuple[float, int]] = {}

    class Clock(BaseCallback):
        """Reads the clock after env step T, before the update of step T (as rlpipe)."""

        def _on_step(self) -> bool:
            if self.num_timesteps in marks:
                sync(device)
                at[marks[self.num_timesteps]] = (time.perf_counter(), self.model._n_updates)
            return True

    model.set_logger(_no_log_files())
    model.learn(total_timesteps=max(marks), callback=Clock())
    env.close()
    host_mb, gpu_mb = peak_memory(device)
    return BenchResult(
        side="sb3",
        frames=window.frames,
        updates=at["end"][1] - at["timed"][1],
        seconds=at["end"][0] - at["timed"][0],
        warmup_s=at["timed"][0] - at["start"][0],
        peak_host_mb=host_mb,
        peak_gpu_mb=gpu_mb,
    )


def bench_sb3_rollouts(spec: Spec, window: Window) -> BenchResult:
    """Time SB3's on-policy learn() over the same whole rollouts as `bench_rlpipe_rollouts`."""
    spec, timed_from, timed_to = rollout_window(spec, window)
    twin = _seeded_twin(spec, window)
    from stable_baselines3.common.callbacks import BaseCallback

    device = torch.device(window.device)
    started = time.perf_counter()
    env = twin.sb3_env(spec, window.seed)
    model = twin.build_model(spec, env, window.seed, window.device)
    at: dict[int, tuple[float, int]] = {}  # frame -> (clock, epochs)

    class Clock(BaseCallback):
        """Reads the clock as a rollout starts, after the previous rollout's update (where
        rlpipe logs)."""

        def _on_rollout_start(self) -> None:
            sync(device)
            at[self.num_timesteps] = (time.perf_counter(), self.model._n_updates)

        def _on_step(self) -> bool:
            return True

    model.set_logger(_no_log_files())
    model.learn(total_timesteps=spec.env.max_frame, callback=Clock())
    env.close()
    algo = cast("PPOSpec", spec.algorithm)
    rollout = algo.num_steps * spec.env.num_envs
    minibatches = math.ceil(rollout / algo.batch_size)  # SB3 counts epochs
    host_mb, gpu_mb = peak_memory(device)
    return BenchResult(
        side="sb3",
        frames=timed_to - timed_from,
        updates=(at[timed_to][1] - at[timed_from][1]) * minibatches,
        seconds=at[timed_to][0] - at[timed_from][0],
        warmup_s=at[timed_from][0] - started,
        peak_host_mb=host_mb,
        peak_gpu_mb=gpu_mb,
    )


def _no_log_files() -> Any:
    """An SB3 logger that writes nothing: SB3's default one makes an empty /tmp/SB3-<date> folder
    per learn() call."""
    from stable_baselines3.common.logger import Logger

    return Logger(folder=None, output_formats=[])


def _seeded_twin(spec: Spec, window: Window) -> Any:
    """The SB3 twin module for a spec it can mirror, with torch seeded for the window."""
    why = sb3_unsupported(spec)
    if why is not None:
        raise RlpipeError(why)
    torch.manual_seed(window.seed)
    return import_peer_module("rlpipe.peers.sb3")
