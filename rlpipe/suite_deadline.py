"""`rlpipe suite run --time-limit`: start no train stage that would end after the limit.

A machine lent for a fixed time (a SLURM job's `--time`, a cloud instance, a working session)
loses a stage it stops part-way: nothing of it reaches dvc.lock. A chain's finished parts are
no better off on a machine whose DVC cache goes with it (a fresh clone has no paused run to
resume), and only a chain's last part writes the run folder. So a stage starts only if it and
the rest of its chain end before the limit at their expected pace: the pace measured in this
command when an earlier stage of the same run finished (a chain's part, another seed group),
else the run's last training as its run folder records it (scaled to the frames, as `rlpipe
suite plan` shows it; a seed group never trained takes its run's other seeds' pace). A stage with
neither starts: there is nothing to judge it by.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rlpipe.errors import RlpipeError
from rlpipe.spec import Suite
from rlpipe.stages import TrainStage, seed_list
from rlpipe.suite_plan import cost_source, duration_text, last_cost, stage_frames

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str) -> float:
    """Seconds in a duration as 2h30m, 90m, 1.5h or 45s (hours, minutes, seconds, in order)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or not any(match.groups()):
        raise RlpipeError(
            f"--time-limit {text!r}: not a duration; write it as 2h30m, 90m, 1.5h or 45s"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise RlpipeError(f"--time-limit {text!r}: must be longer than zero")
    return total


@dataclass(frozen=True)
class StageShape:
    """What a stage trains: its run, seeds, env frames per seed, and the frames per seed from
    its start to the end of its chain (its own frames, for a stage that is not a chain part)."""

    run: str
    seeds: tuple[int, ...]
    frames: int
    to_chain_end: int


def stage_shapes(suite: Suite, stages: list[TrainStage], pipelines: Path) -> dict[str, StageShape]:
    """Each train stage's run, seeds, frames per seed and frames to its chain's end, by name."""
    shapes = {}
    for stage in stages:
        run = suite.runs[stage.run]
        seeds = stage.seeds or tuple(seed_list(suite, stage.run, pipelines))
        step = run.stage_frames or run.frames
        frames = stage_frames(stage, run.frames, step)
        to_end = run.frames - (stage.part - 1) * step
        shapes[stage.name] = StageShape(stage.run, seeds, frames, to_end)
    return shapes


@dataclass
class Deadline:
    """When the command must be done by, and how long each stage is expected to take."""

    root: Path
    limit_s: float
    shapes: dict[str, StageShape]
    cpus: int  # cores a stage's seeds share, one seed per core
    start_s: float  # when the command started, on `clock`
    clock: Callable[[], float] = time.monotonic
    left: list[str] = field(default_factory=list, init=False)  # not started: would end late
    # wall seconds per frame, by run and seeds per stage (seeds share the cores)
    _pace: dict[tuple[str, int], float] = field(default_factory=dict, init=False)
    _started: dict[str, float] = field(default_factory=dict, init=False)

    def remaining_s(self) -> float:
        """Seconds left of the limit (below zero once it has passed)."""
        return self.limit_s - (self.clock() - self.start_s)

    def expected_s(self, name: str) -> tuple[float, str] | None:
        """The wall seconds the stage and the rest of its chain are expected to take, and
        where that figure comes from; None when nothing has timed its run yet."""
        shape = self.shapes.get(name)
        if shape is None:
            return None
        if (pace := self._pace.get((shape.run, len(shape.seeds)))) is not None:
            return pace * shape.to_chain_end, "this run's pace so far"
        cost = last_cost(self.root, shape.run, shape.seeds, shape.to_chain_end)
        if cost is None or not cost.wall_s:
            return None
        # on a GPU the seeds train one after another; on CPUs side by side, one per core
        side_by_side = 1 if cost.gpu_s else max(1, min(self.cpus, len(shape.seeds)))
        return cost.wall_s / side_by_side, cost_source(cost)

    def admits(self, name: str) -> str | None:
        """None if the stage may start now; else why not, in words."""
        remaining = self.remaining_s()
        if remaining <= 0:
            return "left for a later run: the time limit has passed"
        expected = self.expected_s(name)
        if expected is None or expected[0] <= remaining:
            return None
        seconds, source = expected
        shape = self.shapes[name]
        chain = " with the rest of its chain" if shape.to_chain_end > shape.frames else ""
        return (
            f"left for a later run: about {duration_text(seconds)}{chain} at {source}, "
            f"{duration_text(remaining)} left of the time limit"
        )

    def leave(self, name: str) -> None:
        """Record a stage as left for a later run."""
        self.left.append(name)

    def started(self, name: str) -> str:
        """Note the stage's start; what to say of its timing ("" when it was judged)."""
        self._started[name] = self.clock()
        return "" if self.expected_s(name) else " (nothing has timed its run yet)"

    def finished(self, name: str) -> None:
        """Take the pace of the stage's run from the stage that just trained whole. A chain's
        first part, its random warm-up frames among them, is faster per frame than the parts
        after it; each later part's pace replaces it."""
        shape, began = self.shapes.get(name), self._started.pop(name, None)
        if shape is not None and began is not None and shape.frames > 0:
            self._pace[shape.run, len(shape.seeds)] = (self.clock() - began) / shape.frames
