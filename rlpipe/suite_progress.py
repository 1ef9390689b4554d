"""How far the train stages `rlpipe suite run` is running have got, read from their metrics.

A stage is one `rlpipe train` command; each of its seeds appends a row per log interval to
<--out>/seed-<n>/metrics.csv, whose first column is the frame. The stage's frames are its
`--until-frame` (a part of a chain) or its `-s env.max_frame=` (the suite writes both into the
command), so progress needs nothing from the training process itself, and works the same for
a stage running on a Ray node of a shared filesystem.
"""

from __future__ import annotations

import itertools
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TAIL_BYTES = 4096  # enough for the last metrics row
MTIME_SLACK_S = 1.0  # file times come from a coarser clock than time.time()


@dataclass(frozen=True)
class StageProgress:
    """The slowest seed's frame, of the frames the stage trains to (None: not in its command)."""

    frame: int
    target: int | None


def stage_frames(cmd: str) -> tuple[str | None, int | None, list[int] | None]:
    """A train command's --out folder, the frame it stops at (a chain part's --until-frame, else
    its -s env.max_frame=) and its --only-seeds; None for what the command does not say."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None, None, None
    pairs = list(itertools.pairwise(words))
    options = dict(pairs)  # each option's value (a repeated one: its last)
    overrides = dict(value.partition("=")[::2] for flag, value in pairs if flag == "-s")
    target = _frame(options.get("--until-frame")) or _frame(overrides.get("env.max_frame"))
    only = options.get("--only-seeds")
    seeds = [int(s) for s in only.split(",") if s.strip().isdigit()] if only else None
    return options.get("--out"), target, seeds


def _frame(text: str | None) -> int | None:
    try:
        return int(float(text)) if text else None
    except ValueError:
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
    """The stage's progress from the metrics files written since it started (an older run in
    the same folder, which --overwrite replaces, does not count); None before every seed it
    trains has logged a row."""
    out, target, seeds = stage_frames(cmd)
    if out is None:
        return None
    folder = root / out
    if seeds:
        files = [folder / f"seed-{seed}" / "metrics.csv" for seed in seeds]
    else:
        files = sorted(folder.glob("seed-*/metrics.csv"))
    frames = []
    for path in files:
        try:
            fresh = path.stat().st_mtime >= since - MTIME_SLACK_S
        except OSError:
            fresh = False
        frame = last_frame(path) if fresh else None
        if frame is None:
            return None
        frames.append(frame)
    return StageProgress(min(frames), target) if frames else None


@dataclass
class _Watched:
    cmd: str
    started: float
    first: StageProgress | None = None  # the first progress read, and when: the rate's base
    first_at: float = 0.0

    def rate(self, progress: StageProgress, now: float) -> float | None:
        """Frames per second since the first read (None until there are two)."""
        if self.first is None:
            self.first, self.first_at = progress, now
        if progress.frame <= self.first.frame or now <= self.first_at:
            return None
        return (progress.frame - self.first.frame) / (now - self.first_at)


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
            progress = read_progress(self.root, watched.cmd, watched.started)
            rate = watched.rate(progress, now) if progress else None
            self.show(progress_line(name, progress, now - watched.started, rate))


def progress_line(
    name: str, progress: StageProgress | None, elapsed_s: float, rate: float | None = None
) -> str:
    """'train-x: frame 60,000 of 200,000 (30%), 12 min so far, about 28 min left'."""
    so_far = f"{_minutes(elapsed_s)} so far"
    if progress is None:
        return f"{name}: starting ({so_far})"
    if not progress.target:
        return f"{name}: frame {progress.frame:,}, {so_far}"
    share = 100 * progress.frame / progress.target
    line = f"{name}: frame {progress.frame:,} of {progress.target:,} ({share:.0f}%), {so_far}"
    if rate:
        line += f", about {_minutes(max(0, progress.target - progress.frame) / rate)} left"
    return line


def _minutes(seconds: float) -> str:
    return f"{max(0, round(seconds / 60))} min"
