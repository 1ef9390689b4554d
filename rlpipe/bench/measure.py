"""One timed training window: fill the buffer, warm up (compile), then time N env frames.

Each measurement runs in a fresh process (see `run_trial`), so peak memory, thread pools
and allocator state of one side never leak into the other's numbers.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing as mp
import time
from dataclasses import asdict
from typing import Any

import torch

from rlpipe.bench.sb3 import bench_sb3
from rlpipe.bench.timing import BenchResult, Window, peak_memory, sync
from rlpipe.spec.schema import Spec


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
    total = spec.algorithm.learning_starts + window.warmup_frames + window.frames
    buffer = replay_buffer_for(spec, shapes, device, capacity=total)
    generator = torch.Generator(device=device).manual_seed(window.seed)
    trainer = ReplayTrainer(spec, agent, envs, buffer, generator)
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


def _trial(side: str, spec_json: dict[str, Any], window: Window) -> dict[str, Any]:
    torch.set_num_threads(window.threads)
    spec = Spec.model_validate(spec_json)
    if side == "sb3":
        return asdict(bench_sb3(spec, window))
    return asdict(bench_rlpipe(spec, window))


def run_trial(side: str, spec: Spec, window: Window) -> BenchResult:
    """One side's measurement in a fresh process."""
    context = mp.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(_trial, side, spec.model_dump(mode="json"), window).result()
    return BenchResult(**result)
