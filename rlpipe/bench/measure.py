"""One timed training window: fill the buffer, warm up (compile), then time N env frames.

Each measurement runs in a fresh process (see `run_trial`), so peak memory, thread pools
and allocator state of one side never leak into the other's numbers.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing as mp
import resource
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from rlpipe.spec.schema import Spec

SIDES = ("rlpipe", "sb3")


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


def bench_rlpipe(spec: Spec, window: Window) -> BenchResult:
    """Time rlpipe's own training step (act, step, store, update) for window.frames frames."""
    from rlpipe.algos import build_agent
    from rlpipe.envs import env_shapes, make_vec_env
    from rlpipe.fast import accelerate
    from rlpipe.train import collect, replay_buffer_for, updates_due

    device = torch.device(window.device)
    torch.manual_seed(window.seed)
    envs = make_vec_env(spec.env, window.seed)
    shapes = env_shapes(envs)
    agent = accelerate(build_agent(spec, shapes, device), window.compile)
    total = spec.algorithm.learning_starts + window.warmup_frames + window.frames
    buffer = replay_buffer_for(spec, shapes, device, capacity=total)
    generator = torch.Generator(device=device).manual_seed(window.seed)
    algo = spec.algorithm
    obs = envs.reset(seed=window.seed)[0]
    frame, debt = 0, 0.0
    marks = [(algo.learning_starts, "start"), (total - window.frames, "timed"), (total, "end")]
    at: dict[str, tuple[float, int, int]] = {}  # mark -> (clock, frame, updates)

    def reached(frame: int) -> None:
        while marks and frame >= marks[0][0]:
            sync(device)
            at[marks.pop(0)[1]] = (time.perf_counter(), frame, agent.updates)

    reached(frame)
    while frame < total:
        obs, _ = collect(agent, envs, buffer, obs, random_actions=frame < algo.learning_starts)
        frame += envs.num_envs
        if frame > algo.learning_starts:
            n_updates, debt = updates_due(debt, algo.utd, envs.num_envs)
            for _ in range(n_updates):
                agent.update(buffer.sample(algo.batch_size, generator))
        reached(frame)
    envs.close()
    host_mb, gpu_mb = peak_memory(device)
    return BenchResult(
        side="rlpipe",
        frames=at["end"][1] - at["timed"][1],
        updates=at["end"][2] - at["timed"][2],
        seconds=at["end"][0] - at["timed"][0],
        warmup_s=at["timed"][0] - at["start"][0],
        peak_host_mb=host_mb,
        peak_gpu_mb=gpu_mb,
    )


def _trial(side: str, spec_json: dict[str, Any], window: Window) -> dict[str, Any]:
    torch.set_num_threads(window.threads)
    spec = Spec.model_validate(spec_json)
    if side == "sb3":
        from rlpipe.bench.sb3 import bench_sb3

        return asdict(bench_sb3(spec, window))
    return asdict(bench_rlpipe(spec, window))


def run_trial(side: str, spec: Spec, window: Window) -> BenchResult:
    """One side's measurement in a fresh process."""
    context = mp.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(_trial, side, spec.model_dump(mode="json"), window).result()
    return BenchResult(**result)
