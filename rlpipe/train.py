"""The off-policy training loop for one seed: act, step, store, update, log, evaluate, checkpoint."""

from __future__ import annotations

import json
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlpipe.algos import build_agent
from rlpipe.buffers import ReplayBuffer
from rlpipe.envs import (
    EnvShapes,
    env_shapes,
    finished_returns,
    learning_terminals,
    make_vec_env,
    next_observations,
)
from rlpipe.errors import RlpipeError
from rlpipe.fast import accelerate
from rlpipe.profiling import WindowProfiler
from rlpipe.runs import (
    CHECKPOINT_DIR,
    METRICS_FILE,
    MODEL_FILE,
    MetricsLog,
    atomic_torch_save,
    atomic_write_json,
    truncate_after,
)
from rlpipe.spec.schema import ON_POLICY, Spec

COLUMNS = (
    "frame",
    "wall_s",
    "fps",
    "episodes",
    "return_mean",
    "return_ma",
    "eval_return",
    "loss_critic",
    "loss_actor",
    "loss_alpha",
    "alpha",
    "q_mean",
    "entropy",
)
LOSS_COLUMNS = ("loss_critic", "loss_actor", "loss_alpha", "q_mean")
RESULT_FILE = "result.json"
CHECKPOINT_FILE = "state.pt"
EVAL_SEED_OFFSET = 1_000_003  # eval envs never share a seed with training envs


@dataclass(frozen=True)
class SeedProgress:
    """One log point of one seed, for progress display."""

    seed: int
    frame: int
    max_frame: int
    fps: float
    return_ma: float | None
    eval_return: float | None


class NonFiniteLoss(RlpipeError):
    """A loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


class StatAccumulator:
    """Sums of update statistics kept on the device, read (one sync) at log points."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        """Add one update's statistics."""
        for key, value in stats.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1

    def read(self) -> dict[str, float]:
        """Means since the last read, as floats; resets the sums."""
        if not self.sums:
            return {}
        keys = list(self.sums)
        values = torch.stack([self.sums[k].float() for k in keys]).cpu().tolist()
        means = {k: v / self.counts[k] for k, v in zip(keys, values, strict=True)}
        self.sums, self.counts = {}, {}
        return means


def evaluate(agent: Any, envs: Any, seed: int) -> float:
    """Mean return of one deterministic episode in each eval env (reset with a fixed seed)."""
    obs, _ = envs.reset(seed=seed)
    n = envs.num_envs
    returns, done = np.zeros(n), np.zeros(n, dtype=bool)
    while not done.all():
        obs, rewards, terminated, truncated, _ = envs.step(agent.act(obs, deterministic=True))
        returns += np.where(done, 0.0, rewards)
        done |= terminated | truncated
    return float(returns.mean())


def _mean(values: Any) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def replay_buffer_for(
    spec: Spec, shapes: EnvShapes, device: torch.device, capacity: int
) -> ReplayBuffer:
    """The replay buffer for a spec: memory.capacity, or fewer if the run needs fewer."""
    return ReplayBuffer(
        min(spec.memory.capacity, capacity),
        shapes.obs_shape,
        shapes.action_shape,
        device,
        obs_dtype=torch.uint8 if shapes.obs_dtype == np.uint8 else torch.float32,
        action_dtype=torch.long if shapes.discrete else torch.float32,
    )


def collect(
    agent: Any, envs: Any, buffer: ReplayBuffer, obs: np.ndarray, random_actions: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """Act (uniformly at random before learning starts), step every env, store the step."""
    actions = envs.action_space.sample() if random_actions else agent.act(obs)
    next_obs, rewards, terminated, _, info = envs.step(actions)
    terminal = learning_terminals(terminated, info)
    buffer.add(obs, actions, rewards, next_observations(next_obs, info), terminal)
    agent.observe(next_obs)
    return next_obs, info


def train_seed(
    spec: Spec,
    seed: int,
    seed_dir: Path,
    device: torch.device,
    resume: bool = False,
    profile: bool = False,
    report: Callable[[SeedProgress], None] = lambda _: None,
    artifact_dir: Path | None = None,
    compile: bool = False,
) -> dict[str, Any]:
    """Train one seed into seed_dir and return its result (written to result.json too).

    On-policy algorithms (PPO, A2C) run the loop in rlpipe/onpolicy.py, with the same files.

    Weights and resume checkpoints go to artifact_dir (default: seed_dir), so a pipeline can
    keep the small files in git and the large ones in a cache.
    """
    if spec.algorithm.name in ON_POLICY:
        from rlpipe.onpolicy import train_onpolicy  # imports this module: no top-level import

        return train_onpolicy(spec, seed, seed_dir, device, resume, profile, report, artifact_dir)
    artifact_dir = artifact_dir or seed_dir
    result_path = seed_dir / RESULT_FILE
    if resume and result_path.is_file():
        return json.loads(result_path.read_text())
    seed_dir.mkdir(parents=True, exist_ok=True)
    algo, meta, max_frame = spec.algorithm, spec.meta, spec.env.max_frame
    _seed_everything(seed)
    envs = make_vec_env(spec.env, seed, training=True)
    eval_envs = make_vec_env(spec.env, seed + EVAL_SEED_OFFSET, num_envs=meta.eval_episodes)
    shapes = env_shapes(envs)
    agent = accelerate(build_agent(spec, shapes, device), compile)
    buffer = replay_buffer_for(spec, shapes, device, capacity=max_frame)
    generator = torch.Generator(device=device).manual_seed(seed)
    checkpoint_path = artifact_dir / CHECKPOINT_DIR / CHECKPOINT_FILE
    metrics_path = seed_dir / METRICS_FILE

    loop = {"frame": 0, "update_debt": 0.0, "wall_offset": 0.0, "episodes": 0, "eval": None}
    recent: deque[float] = deque(maxlen=meta.return_window)
    if resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        agent.load_state_dict(state["agent"])
        buffer.load_state_dict(state["buffer"])
        generator.set_state(state["rng"]["sampler"])
        torch.set_rng_state(state["rng"]["torch"])
        envs.action_space.np_random.bit_generator.state = state["rng"]["action_space"]
        loop = state["loop"]
        recent.extend(state["recent_returns"])
        truncate_after(metrics_path, loop["frame"])
    elif metrics_path.exists():
        truncate_after(metrics_path, 0)

    def save_checkpoint(frame: int) -> None:
        atomic_torch_save(
            {
                "agent": agent.state_dict(),
                "buffer": buffer.state_dict(),
                "rng": {
                    "sampler": generator.get_state(),
                    "torch": torch.get_rng_state(),
                    "action_space": envs.action_space.np_random.bit_generator.state,
                },
                "loop": {**loop, "frame": frame},
                "recent_returns": list(recent),
            },
            checkpoint_path,
        )

    frame = loop["frame"]
    next_log = (frame // meta.log_interval + 1) * meta.log_interval
    next_eval = (frame // meta.eval_interval + 1) * meta.eval_interval
    next_checkpoint = (frame // meta.checkpoint_interval + 1) * meta.checkpoint_interval
    last_checkpoint = frame
    stats = StatAccumulator()
    profiler = WindowProfiler(artifact_dir / "profile.json", device) if profile else None
    # Env states are not checkpointed: on resume the interrupted episodes restart, seeded by
    # the frame so that a resumed run is itself reproducible.
    obs = envs.reset(seed=seed + frame)[0]
    start, last_log_time, last_log_frame = time.perf_counter(), time.perf_counter(), frame
    finished_since_log: list[float] = []

    with MetricsLog(metrics_path, COLUMNS) as metrics:
        while frame < max_frame:
            obs, info = collect(agent, envs, buffer, obs, frame < algo.learning_starts)
            returns = finished_returns(info)
            recent.extend(returns)
            finished_since_log.extend(returns)
            loop["episodes"] += len(returns)
            frame += envs.num_envs

            if frame > algo.learning_starts:
                loop["update_debt"] += algo.utd * envs.num_envs
                n_updates = int(loop["update_debt"])
                loop["update_debt"] -= n_updates
                for _ in range(n_updates):
                    stats.add(agent.update(buffer.sample(algo.batch_size, generator)))
                if profiler is not None:
                    profiler.step(frame)

            if frame < next_log and frame < max_frame:
                continue
            eval_return = None
            if frame >= next_eval or frame >= max_frame:
                eval_return = evaluate(agent, eval_envs, seed + EVAL_SEED_OFFSET)
                loop["eval"] = eval_return
                next_eval = (frame // meta.eval_interval + 1) * meta.eval_interval
            now = time.perf_counter()
            means = stats.read()
            for key in LOSS_COLUMNS:
                if key in means and not math.isfinite(means[key]):
                    raise NonFiniteLoss(
                        f"{key} became {means[key]} between frames {last_log_frame} and {frame} "
                        f"(seed {seed}); stopped. The last good checkpoint (frame "
                        f"{last_checkpoint}) is kept in {checkpoint_path.parent}"
                    )
            wall_s = loop["wall_offset"] + now - start
            row = {
                "frame": frame,
                "wall_s": wall_s,
                "fps": (frame - last_log_frame) / max(now - last_log_time, 1e-9),
                "episodes": loop["episodes"],
                "return_mean": _mean(finished_since_log),
                "return_ma": _mean(recent),
                "eval_return": eval_return,
                **means,
            }
            metrics.append(row)
            report(SeedProgress(seed, frame, max_frame, row["fps"], row["return_ma"], loop["eval"]))
            finished_since_log.clear()
            last_log_time, last_log_frame = now, frame
            next_log = (frame // meta.log_interval + 1) * meta.log_interval
            if frame >= next_checkpoint and frame < max_frame:
                loop["wall_offset"] += now - start
                start = now
                save_checkpoint(frame)
                last_checkpoint = frame
                next_checkpoint = (frame // meta.checkpoint_interval + 1) * meta.checkpoint_interval

    if profiler is not None:
        profiler.close()
    envs.close()
    eval_envs.close()
    wall_s = loop["wall_offset"] + time.perf_counter() - start
    atomic_torch_save(agent.state_dict(with_optimizers=False), artifact_dir / MODEL_FILE)
    result = {
        "seed": seed,
        "return_ma": _mean(recent),
        "eval_return": loop["eval"],
        "frames": frame,
        "wall_s": wall_s,
        "fps": frame / max(wall_s, 1e-9),
    }
    atomic_write_json(result_path, result)
    return result
