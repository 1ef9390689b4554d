"""What every training loop does for one seed besides learning: resume, the log, eval and
checkpoint schedule, metrics rows with the NaN guard, progress reports and the result.

The off-policy and on-policy loops (rlpipe/loops/offpolicy.py, onpolicy.py) differ only in
how they collect frames and update; both hand the rest to a `SeedLoop`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from rlpipe.envs import finished_returns
from rlpipe.errors import RlpipeError
from rlpipe.profiling import WindowProfiler
from rlpipe.rundir import MetricsLog, SeedFolder, truncate_after
from rlpipe.spec.schema import Spec

if TYPE_CHECKING:

    class TrainedAgent(Protocol):
        """What finishing a seed needs of its agent (rlpipe's, or a peer's twin)."""

        @property
        def updates(self) -> int: ...

        def state_dict(self, with_optimizers: bool = ...) -> dict[str, Any]: ...


COLUMNS = ("frame", "wall_s", "fps", "episodes", "return_mean", "return_ma", "eval_return")
"""The columns of every metrics.csv; the agent's update statistics follow them."""


@dataclass(frozen=True)
class SeedProgress:
    """One log point of one seed, for progress display."""

    seed: int
    frame: int
    max_frame: int
    fps: float
    return_ma: float | None
    eval_return: float | None


class RowSink(Protocol):
    """A view of the metrics rows outside metrics.csv (TensorBoard, W&B): it gets each row as
    it is written, and nothing it does feeds back into training."""

    def open(self, seed: int, columns: tuple[str, ...], start_frame: int) -> None:
        """Start the seed's view; rows before start_frame are already there (a resume)."""

    def write(self, row: dict[str, Any]) -> None:
        """Add one metrics row."""

    def close(self) -> None:
        """Flush and close the view."""


class StagePaused(Exception):
    """The seed reached the frame its stage stops at (`--until-frame`) and was checkpointed."""

    def __init__(self, frame: int) -> None:
        super().__init__(f"paused at frame {frame}")
        self.frame = frame


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


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def _next_multiple(frame: int, interval: int) -> int:
    return (frame // interval + 1) * interval


class SeedLoop:
    """One seed's bookkeeping. Use as a context manager around the loop (it holds
    metrics.csv open); call `episodes_ended` after each env step, `log` when `log_due`, and
    `finish` at the end.

    `loop_fields` are extra counters the caller keeps in `self.state`; they are saved in
    and restored from checkpoints with the rest.
    """

    def __init__(
        self,
        spec: Spec,
        folder: SeedFolder,
        statistics: tuple[str, ...],
        report: Callable[[SeedProgress], None],
        profile: bool,
        device: torch.device,
        stop_at: int | None = None,
        sinks: Sequence[RowSink] = (),
        **loop_fields: Any,
    ) -> None:
        self.meta, self.seed, self.max_frame = spec.meta, folder.seed, spec.env.max_frame
        self.stop_at = stop_at if stop_at is not None and stop_at < self.max_frame else None
        self.folder = folder
        self.columns, self.report, self.device = COLUMNS + statistics, report, device
        self.metrics_path = folder.metrics
        self.state: dict[str, Any] = {
            "frame": 0, "wall_offset": 0.0, "episodes": 0, "eval": None, **loop_fields
        }  # fmt: skip
        self.recent: deque[float] = deque(maxlen=spec.meta.return_window)
        self.finished_since_log: list[float] = []
        self.stats = StatAccumulator()
        self.profiler = WindowProfiler(folder.profile, device) if profile else None
        self.metrics: MetricsLog | None = None
        self.sinks = sinks
        self.checkpoint_written = False
        folder.path.mkdir(parents=True, exist_ok=True)

    def resume(self, resume: bool) -> dict[str, Any] | None:
        """The checkpoint to continue from (None for a fresh start); metrics.csv is cut back
        to the checkpoint's frame (emptied for a fresh start), so no row is duplicated."""
        saved = self.folder.load_checkpoint(self.device) if resume else None
        if saved is not None:
            self.checkpoint_written = True
            torch.set_rng_state(saved["rng"]["torch"])
            self.state = saved["loop"]
            self.recent.extend(saved["recent_returns"])
            truncate_after(self.metrics_path, self.state["frame"])
            return saved
        if self.metrics_path.exists():
            truncate_after(self.metrics_path, 0)
        return None

    def __enter__(self) -> SeedLoop:
        frame = self.state["frame"]
        self.next_log = _next_multiple(frame, self.meta.log_interval)
        self.next_eval = _next_multiple(frame, self.meta.eval_interval)
        self.next_checkpoint = _next_multiple(frame, self.meta.checkpoint_interval)
        self.last_checkpoint = self.last_log_frame = frame
        self.start = self.last_log_time = time.perf_counter()
        self.metrics = MetricsLog(self.metrics_path, self.columns).__enter__()
        for sink in self.sinks:
            sink.open(self.seed, self.columns, frame)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.metrics is not None
        self.metrics.__exit__(*exc)
        for sink in self.sinks:
            sink.close()

    def episodes_ended(self, info: dict[str, Any]) -> None:
        """Count the episodes that ended in this env step and keep their returns."""
        returns = finished_returns(info)
        self.recent.extend(returns)
        self.finished_since_log.extend(returns)
        self.state["episodes"] += len(returns)

    def profile_step(self, frame: int) -> None:
        """Advance the profiler's window (a no-op without --profile)."""
        if self.profiler is not None:
            self.profiler.step(frame)

    def log_due(self, frame: int) -> bool:
        """Whether frame is a log point (every log_interval, the last frame, and the frame the
        stage stops at)."""
        stop = self.max_frame if self.stop_at is None else self.stop_at
        return frame >= self.next_log or frame >= stop

    def log(
        self,
        frame: int,
        run_eval: Callable[[], float],
        checkpoint: Callable[[], dict[str, Any]],
    ) -> None:
        """Evaluate if due, write a metrics row, report progress, checkpoint if due.

        `checkpoint` returns the caller's own parts of a checkpoint (agent, buffers, RNG
        states other than torch's global one); the loop state is added here. At the frame the
        stage stops at, it checkpoints and raises StagePaused.
        """
        meta = self.meta
        eval_return = None
        if frame >= self.next_eval or frame >= self.max_frame:
            eval_return = self.state["eval"] = run_eval()
            self.next_eval = _next_multiple(frame, meta.eval_interval)
        now = time.perf_counter()
        means = self.stats.read()
        for key, value in means.items():
            if not math.isfinite(value):
                raise NonFiniteLoss(
                    f"{key} became {value} between frames {self.last_log_frame} and "
                    f"{frame} (seed {self.seed}); stopped. {self._kept_checkpoint()}"
                )
        row = {
            "frame": frame,
            "wall_s": self.state["wall_offset"] + now - self.start,
            "fps": (frame - self.last_log_frame) / max(now - self.last_log_time, 1e-9),
            "episodes": self.state["episodes"],
            "return_mean": _mean(self.finished_since_log),
            "return_ma": _mean(self.recent),
            "eval_return": eval_return,
            **means,
        }
        assert self.metrics is not None
        self.metrics.append(row)
        for sink in self.sinks:
            sink.write(row)
        progress = (self.seed, frame, self.max_frame, row["fps"], row["return_ma"])
        self.report(SeedProgress(*progress, self.state["eval"]))
        self.finished_since_log.clear()
        self.last_log_time, self.last_log_frame = now, frame
        self.next_log = _next_multiple(frame, meta.log_interval)
        paused = self.stop_at is not None and frame >= self.stop_at
        if (frame >= self.next_checkpoint or paused) and frame < self.max_frame:
            self.state["wall_offset"] += now - self.start
            self.start = now
            parts = checkpoint()
            parts["rng"] = {**parts.get("rng", {}), "torch": torch.get_rng_state()}
            state = {**parts, "loop": {**self.state, "frame": frame},
                     "recent_returns": list(self.recent)}  # fmt: skip
            self.folder.save_checkpoint(state)
            self.checkpoint_written = True
            self.last_checkpoint = frame
            self.next_checkpoint = _next_multiple(frame, meta.checkpoint_interval)
        if paused:
            raise StagePaused(frame)

    def _kept_checkpoint(self) -> str:
        if not self.checkpoint_written:
            return (
                f"No checkpoint was written before it (every {self.meta.checkpoint_interval:,} "
                "frames), so the seed must start over: rerun with --overwrite"
            )
        return (
            f"The last good checkpoint (frame {self.last_checkpoint:,}) is kept in "
            f"{self.folder.checkpoint.parent}"
        )

    def finish(self, frame: int, agent: TrainedAgent) -> dict[str, Any]:
        """Save the final weights and write result.json; returns the result."""
        if self.profiler is not None:
            self.profiler.close()
        wall_s = self.state["wall_offset"] + time.perf_counter() - self.start
        self.folder.save_weights(agent.state_dict(with_optimizers=False))
        result = {
            "seed": self.seed,
            "return_ma": _mean(self.recent),
            "eval_return": self.state["eval"],
            "frames": frame,
            "wall_s": wall_s,
            "fps": frame / max(wall_s, 1e-9),
            "device": str(self.device),
            "torch_threads": torch.get_num_threads(),
            "updates": agent.updates,
        }
        self.folder.write_result(result)
        return result
