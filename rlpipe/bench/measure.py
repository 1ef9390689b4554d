"""One timed training window: fill the buffer, warm up (compile), then time N env frames.

On-policy algorithms (PPO, A2C) have no buffer to fill: their window is whole rollouts, after
warm-up rollouts, timed through the real training loop (`rollout_window`).

Each measurement runs in a fresh process (see `run_trial`), so peak memory, thread pools
and allocator state of one side never leak into the other's numbers.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing as mp
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from rlpipe.bench.sb3 import bench_sb3, bench_sb3_rollouts
from rlpipe.bench.timing import (
    BenchResult,
    Window,
    peak_memory,
    rollout_window,
    side_spec,
    sync,
)
from rlpipe.spec.schema import Spec

if TYPE_CHECKING:
    from rlpipe.spec.schema import CrossQSpec, DQNSpec, SACSpec


def bench_rlpipe(spec: Spec, window: Window) -> BenchResult:
    """Time rlpipe's own training step (act, step, store, update) for window.frames frames."""
    from rlpipe.algos.registry import algorithm, build_agent
    from rlpipe.envs import env_shapes, make_vec_env
    from rlpipe.fast import accelerate
    from rlpipe.loops.offpolicy import ReplayTrainer, replay_buffer_for

    device = torch.device(window.device)
    torch.manual_seed(window.seed)
    envs = make_vec_env(
        spec.env, window.seed, rescale_actions=algorithm(spec.algorithm.name).squashes_actions
    )
    shapes = env_shapes(envs)
    agent = accelerate(build_agent(spec, shapes, device), window.compile)
    algo = cast("SACSpec | CrossQSpec | DQNSpec", spec.algorithm)
    total = algo.learning_starts + window.warmup_frames + window.frames
    buffer = replay_buffer_for(spec, shapes, device, capacity=total)
    generator = torch.Generator(device=device).manual_seed(window.seed)
    trainer = ReplayTrainer(spec, agent, envs, buffer, generator)
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
        obs, _, _, debt = trainer.step(obs, frame, debt)
        frame += envs.num_envs
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


def bench_rlpipe_rollouts(spec: Spec, window: Window) -> BenchResult:
    """Time rlpipe's on-policy training (rollouts, GAE, updates) over whole rollouts, in the
    session `rlpipe train` runs; the clock is read at each rollout's log point."""
    from rlpipe.loops.onpolicy import OnPolicySession
    from rlpipe.loops.seedloop import SeedProgress
    from rlpipe.loops.session import SeedJob
    from rlpipe.rundir import SeedFolder

    spec, timed_from, timed_to = rollout_window(spec, window)
    device = torch.device(window.device)
    at: dict[int, tuple[float, int]] = {}  # frame -> (clock, updates)

    def clock(progress: SeedProgress) -> None:
        sync(device)
        at[progress.frame] = (time.perf_counter(), session.agent.updates)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rlpipe-bench-") as tmp:
        folder = SeedFolder(window.seed, Path(tmp) / "run", Path(tmp) / "artifacts")
        session = OnPolicySession(
            spec, SeedJob(folder, device, compile=window.compile, report=clock)
        )
        session.run()
    host_mb, gpu_mb = peak_memory(device)
    return BenchResult(
        side="rlpipe",
        frames=timed_to - timed_from,
        updates=at[timed_to][1] - at[timed_from][1],
        seconds=at[timed_to][0] - at[timed_from][0],
        warmup_s=at[timed_from][0] - started,
        peak_host_mb=host_mb,
        peak_gpu_mb=gpu_mb,
    )


def _trial(side: str, spec_json: dict[str, Any], window: Window) -> dict[str, Any]:
    from rlpipe.algos.registry import algorithm

    torch.set_num_threads(window.threads)
    spec = Spec.model_validate(spec_json)
    on_policy = algorithm(spec.algorithm.name).on_policy
    if side == "sb3":
        return asdict(bench_sb3_rollouts(spec, window) if on_policy else bench_sb3(spec, window))
    result = bench_rlpipe_rollouts(spec, window) if on_policy else bench_rlpipe(spec, window)
    return {**asdict(result), "side": side}


def run_trial(side: str, spec: Spec, window: Window) -> BenchResult:
    """One side's measurement in a fresh process."""
    context = mp.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        document = side_spec(side, spec).model_dump(mode="json")
        result = pool.submit(_trial, side, document, window).result()
    return BenchResult(**result)
