"""Whether a runs folder holds the suite's runs, checked before `rlpipe plot` and `rlpipe report`
write anything: a mistyped `--runs` would otherwise replace the committed report and plots with
an all-missing table. A suite with some runs not trained yet is fine (the report says which)."""

from __future__ import annotations

from pathlib import Path

from rlpipe.errors import RlpipeError
from rlpipe.report.damaged_runs import damaged_runs
from rlpipe.rundir import RunFolder
from rlpipe.spec.suite import Suite

SHOWN_KEYS = 3
"""Run keys named in the error before "..."."""


def holds_run_files(run_dir: Path) -> bool:
    """Whether a run folder holds any of a run's files: its spec.json, or a seed's metrics."""
    run = RunFolder(run_dir)
    return run.holds_run() or bool(run.seeds_with_metrics())


def require_suite_runs(suite: Suite, runs_root: Path, suite_path: Path) -> None:
    """Raise an RlpipeError unless `runs_root` is a folder holding at least one of the suite's
    runs (runs_root/<key> with a run's files), none of them damaged (a finished run's file that
    the report reads missing, unreadable or torn: the audit's damaged-run)."""
    runs_root = Path(runs_root)
    keys = list(suite.runs)
    if not runs_root.is_dir():
        state = "is not a folder" if runs_root.exists() else "does not exist"
        raise RlpipeError(
            f"the runs folder {runs_root} {state}; nothing was written. Pass the folder that "
            "holds the suite's run folders with --runs (default: runs), or train the suite first "
            "(dvc repro)"
        )
    if keys and not any(holds_run_files(runs_root / key) for key in keys):
        named = ", ".join(keys[:SHOWN_KEYS]) + (", ..." if len(keys) > SHOWN_KEYS else "")
        raise RlpipeError(
            f"{runs_root} holds none of the {len(keys)} runs of {suite_path} (looked for "
            f"{runs_root}/<key> with a spec.json or a seed's metrics, for {named}); nothing was "
            "written. Check --runs and --suite, or train a run first"
        )
    damaged = damaged_runs(suite, runs_root)
    if damaged:
        named = "; ".join(f"{key}: {message}" for key, message in list(damaged.items())[:2])
        more = f" (and {len(damaged) - 2} more runs)" if len(damaged) > 2 else ""
        raise RlpipeError(
            f"{len(damaged)} of the suite's runs cannot be read whole, so nothing was written: "
            f"{named}{more}"
        )
