"""One trial: the `rlpipe train` command that trains it, and the values it has logged so far.

A trial is an ordinary run folder. The search never imports the training code: it starts
`rlpipe train` and reads the trial's seed-K/metrics.csv as it grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from rlpipe.rundir import RunFolder
from rlpipe.train_command import train_argv

Objective = Literal["score", "eval"]
OBJECTIVE_COLUMNS: dict[str, str] = {"score": "return_ma", "eval": "eval_return"}
"""The metrics.csv column reported to the pruner while a trial trains, per objective."""
OBJECTIVE_SUMMARY_KEYS: dict[str, str] = {"score": "score", "eval": "eval_return"}
"""The summary.json value a finished trial is scored by, per objective."""


@dataclass(frozen=True)
class TrialCommand:
    """What one trial trains and where."""

    family: str
    spec: str
    overrides: tuple[str, ...]  # the search's -s settings, then the trial's values
    seeds: int
    workers: int
    device: str
    pipelines: Path
    run_dir: Path

    def argv(self) -> list[str]:
        """The `rlpipe train` command line."""
        return train_argv(
            self.family, self.spec, self.overrides, seeds=self.seeds, workers=self.workers,
            device=self.device, out=self.run_dir, pipelines=self.pipelines, quiet=True,
        )  # fmt: skip


def logged_values(run_dir: Path, seeds: Sequence[int], column: str) -> list[tuple[int, float]]:
    """(frame, mean over seeds) for every frame at which every seed has logged `column`."""
    by_seed: list[dict[int, float]] = []
    for seed in seeds:
        folder = RunFolder(run_dir).seed(seed)
        rows = folder.read_metrics() if folder.metrics.is_file() else []
        by_seed.append(
            {
                int(cast(float, r["frame"])): cast(float, r[column])
                for r in rows
                if r.get(column) is not None
            }
        )
    frames = set.intersection(*(set(values) for values in by_seed)) if by_seed else set()
    return [(f, sum(values[f] for values in by_seed) / len(by_seed)) for f in sorted(frames)]


def finished_value(run_dir: Path, objective: Objective) -> tuple[float | None, dict[str, Any]]:
    """The objective of a finished trial from its summary.json, and the summary."""
    run = RunFolder(run_dir)
    summary = run.read_summary().model_dump(mode="json") if run.finished() else {}
    return summary.get(OBJECTIVE_SUMMARY_KEYS[objective]), summary


def spec_hash_of(run_dir: Path) -> str | None:
    """The spec hash a trial trained with, from its spec.json."""
    run = RunFolder(run_dir)
    return run.read_spec_hash() if run.holds_run() else None
