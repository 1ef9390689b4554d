"""How far the train stages `rlpipe suite run` is running have got, read from their metrics.

A stage is one `rlpipe train` command; each of its seeds appends a row per log interval to
<--out>/seed-<n>/metrics.csv, whose first column is the frame. Each seed trains to the
command's `--until-frame` (a part of a chain) or `-s env.max_frame=`, and the command names
its seeds (`--only-seeds`, `-s meta.seeds=`; the suite writes all of these), so progress needs
nothing from the training process itself, and works the same for a stage running on a Ray node
of a shared filesystem. A chain's later part counts from frame 0 of the chain, not of the part:
its folder starts with the earlier parts' rows.
"""

from __future__ import annotations

import itertools
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rlpipe.rundir import RunFolder

TAIL_BYTES = 4096  # enough for the last metrics row
MTIME_SLACK_S = 1.0  # file times come from a coarser clock than time.time()


@dataclass(frozen=True)
class StageProgress:
    """Frames trained so far, summed over the stage's seeds, and the sum it trains to (None:
    its command does not say)."""

    frames: int
    target: int | None
    seeds: int


@dataclass(frozen=True)
class StageCommand:
    """What a train command says about its progress; None for what it does not say."""

    out: str | None  # its --out folder
    until: int | None  # the frame each seed stops at: --until-frame (a chain part), max_frame
    seeds: list[int] | None  # its --only-seeds
    seed_count: int | None  # its -s meta.seeds=


def stage_command(cmd: str) -> StageCommand:
    """Read a DVC train stage's `rlpipe train` command line."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        return StageCommand(None, None, None, None)
    pairs = list(itertools.pairwise(words))
    options = dict(pairs)  # each option's value (a repeated one: its last)
    overrides = dict(value.partition("=")[::2] for flag, value in pairs if flag == "-s")
    until = _frame(options.get("--until-frame")) or _frame(overrides.get("env.max_frame"))
    only = options.get("--only-seeds")
    seeds = [int(s) for s in only.split(",") if s.strip().isdigit()] if only else None
    return StageCommand(options.get("--out"), until, seeds, _frame(overrides.get("meta.seeds")))


def _frame(text: str | None) -> int | None:
    try:
        return int(float(text)) if text else None
    except (ValueError, OverflowError):  # not a number, or inf
        return None


def last_frame(metrics: Path) -> int | None:
    """The frame of a metrics.csv's last complete row (None: no row yet, or not readable)."""
    try:
        with metrics.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    rows = tail.split("\n")[:-1]  # the text after the last newline is a row being written
    for row in reversed(rows):
        frame = _frame(row.split(",", 1)[0])
        if frame is not None:
            return frame
    return None


def read_progress(root: Path, cmd: str, since: float) -> StageProgress | None:
    """The stage's frames so far over all its seeds, from the metrics files written since it
    started: an older run in the folder (which --overwrite replaces) and a seed that has not
    started yet (seeds train in turn when there are fewer cores than seeds) count as 0.
    None while no seed has logged a row, or when the command names no --out."""
    command = stage_command(cmd)
    if command.out is None:
        return None
    run = RunFolder(root / command.out)
    if command.seeds:
        files = [run.seed(seed).metrics for seed in command.seeds]
    else:
        files = [seed.metrics for seed in run.seeds_with_metrics()]
    frames = [_fresh_last_frame(path, since) for path in files]
    logged = [frame for frame in frames if frame is not None]
    if not logged:
        return None
    seeds = len(command.seeds or ()) or command.seed_count or len(files)
    target = command.until * seeds if command.until else None
    return StageProgress(sum(logged), target, seeds)


def _fresh_last_frame(path: Path, since: float) -> int | None:
    try:
        fresh = path.stat().st_mtime >= since - MTIME_SLACK_S
    except OSError:
        return None
    return last_frame(path) if fresh else None


@dataclass
class _Watched:
    cmd: str
    started: float
    base: StageProgress | None = None  # the reading the pace counts from, and when
    base_at: float = 0.0

    def rate(self, progress: StageProgress, now: float) -> float | None:
        """Frames per second since the base reading (None until there are two). A drop in
        frames (a seed's folder replaced as it starts) starts the count again."""
        if self.base is None or progress.frames < self.base.frames:
            self.base, self.base_at = progress, now
        if progress.frames == self.base.frames or now <= self.base_at:
            return None
        return (progress.frames - self.base.frames) / (now - self.base_at)


class ProgressReporter:
    """One line per running stage every `interval_s`: frames, share, time so far, time left."""

    def __init__(
        self,
        root: Path,
        show: Callable[[str], None],
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.show = show
        self.interval_s = interval_s
        self.clock = clock
        self.watched: dict[str, _Watched] = {}
        self.last_shown = clock()

    def started(self, name: str, cmd: str) -> None:
        self.watched[name] = _Watched(cmd, self.clock())

    def finished(self, name: str) -> None:
        self.watched.pop(name, None)

    def tick(self) -> None:
        """Show the lines if `interval_s` has passed since the last ones."""
        now = self.clock()
        if now - self.last_shown < self.interval_s:
            return
        self.last_shown = now
        for name, watched in self.watched.items():
            try:
                progress = read_progress(self.root, watched.cmd, watched.started)
                rate = watched.rate(progress, now) if progress else None
                line = progress_line(name, progress, now - watched.started, rate)
            except Exception as error:  # a progress line must never stop the training
                line = f"{name}: progress unknown ({type(error).__name__}: {error})"
            self.show(line)


def progress_line(
    name: str, progress: StageProgress | None, elapsed_s: float, rate: float | None = None
) -> str:
    """'train-x: 30% (120,000 of 400,000 frames, 2 seeds), 12 min so far, about 28 min left'."""
    so_far = f"{_minutes(elapsed_s)} so far"
    if progress is None:
        return f"{name}: starting ({so_far})"
    seeds = f"{progress.seeds} seed{'s' if progress.seeds != 1 else ''}"
    if not progress.target:
        return f"{name}: {progress.frames:,} frames ({seeds}), {so_far}"
    share = 100 * progress.frames / progress.target
    line = f"{name}: {share:.0f}% ({progress.frames:,} of {progress.target:,} frames, {seeds})"
    line += f", {so_far}"
    if rate:
        line += f", about {_minutes(max(0, progress.target - progress.frames) / rate)} left"
    return line


def _minutes(seconds: float) -> str:
    return f"{max(0, round(seconds / 60))} min"
