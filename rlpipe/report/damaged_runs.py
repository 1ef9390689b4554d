"""Suite runs whose files the report reads cannot be read: `rlpipe audit` names each one as a
damaged-run finding, says to restore the file from git or DVC, and goes on with the others."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from rlpipe.errors import RlpipeError
from rlpipe.rundir import RunFolder
from rlpipe.spec.suite import Suite


def damaged_runs(suite: Suite, runs: Path) -> dict[str, str]:
    """For each finished suite run with a file the report reads that cannot be read, what is
    wrong and how to restore it (the damaged-run finding's message), keyed by run."""
    damaged = {}
    for key in suite.runs:
        problem = _unreadable_file(runs / key)
        if problem is not None:
            path, reason = problem
            restore = shlex.quote(path.as_posix())
            message = (
                f"{reason}: restore it from git (git checkout -- {restore}) or DVC (dvc checkout); "
                f"re-train only if neither has it (dvc repro, or rlpipe train ... --out "
                f"{shlex.quote((runs / key).as_posix())} --overwrite); its row is checked once "
                "the run reads"
            )
            damaged[key] = message
    return damaged


def _unreadable_file(run_dir: Path) -> tuple[Path, str] | None:
    """The first file of a finished run that the report's row reads (spec.json, summary.json,
    provenance.json, the summary's seeds' metrics.csv and result.json) and that is missing or
    damaged, with what is wrong; None when they all read (or the run has not finished: a
    suite-mismatch)."""
    run = RunFolder(run_dir)
    if not run.finished():
        return None
    reads: list[tuple[Path, Callable[[], object]]] = [
        (run.spec_file, lambda: (run.read_spec_hash(), run.read_meta(), run.read_algorithm())),
        (run.summary_file, run.read_summary),
    ]
    if run.provenance_file.exists():
        reads.append((run.provenance_file, run.read_provenance))
    for path, read in reads:
        if (problem := _read_problem(path, read)) is not None:
            return path, problem
    for seed in run.read_summary().seeds:
        folder = run.seed(seed)
        if (problem := _read_problem(folder.metrics, folder.read_metrics)) is not None:
            return folder.metrics, problem
        if _torn(folder.metrics):  # its reader drops a torn last row without a word
            return folder.metrics, f"{folder.metrics} ends in a torn line"
        # a missing result.json is a number-mismatch: the score is not re-derived without it
        if folder.result.exists() and (problem := _read_problem(folder.result, folder.read_result)):
            return folder.result, problem
    return None


def _read_problem(path: Path, read: Callable[[], object]) -> str | None:
    """What is wrong with a run file: missing, or what its reader says (without the advice that
    ends the reader's message after its last "; ": the damaged-run finding gives its own); None
    when it reads."""
    if not path.exists():
        return f"{path} is missing"
    try:
        read()
    except RlpipeError as error:
        problem, _, _ = str(error).rpartition("; ")
        return problem or str(error)
    except UnicodeDecodeError as error:  # metrics.csv's reader lets a non-UTF-8 file through
        return f"{path} cannot be read ({error})"
    return None


def _torn(path: Path) -> bool:
    """Whether a file rlpipe writes whole lines to ends inside a line."""
    with path.open("rb") as file:
        if file.seek(0, 2) == 0:
            return False
        file.seek(-1, 2)
        return file.read(1) != b"\n"
