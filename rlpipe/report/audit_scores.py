"""The audit's second path to a row's score, CI, frames to target and status: from the raw
per-seed files (result.json, metrics.csv) through the one definition of the score
(rlpipe.rundir.summary.summarize), without the report's row builder, so that a bug there cannot
pass the audit by agreeing with itself."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from rlpipe.rundir import RunFolder
from rlpipe.rundir.summary import summarize

EMPTY = "—"


def _decimal(value: float) -> str:
    return f"{value:.1f}"


def expected_cells(run_dir: Path, target: float) -> dict[str, str]:
    """Score (95% CI), Frames to target and the status word of a finished run, from its seeds'
    result.json and metrics.csv."""
    run = RunFolder(run_dir)
    seeds = run.read_summary().seeds
    results = [run.seed(seed).read_result() for seed in seeds]
    summary = summarize(str(run_dir), [result.model_dump() for result in results if result])
    score, ci95 = summary["score"], summary["score_ci95"]
    if score is None:
        score_cell = EMPTY
    elif ci95 is None:
        score_cell = _decimal(score)
    else:
        score_cell = f"{_decimal(score)} [{_decimal(ci95[0])}, {_decimal(ci95[1])}]"
    reached = []
    for seed in seeds:
        rows = run.seed(seed).read_metrics()
        first = next(
            (
                row["frame"]
                for row in rows
                if row["return_ma"] is not None and row["return_ma"] >= target
            ),
            None,
        )
        if first is not None:
            reached.append(first)
    mean = f"{sum(reached) / len(reached):,.0f}" if reached else EMPTY
    if score is None or not math.isfinite(score):
        status = "no score"
    else:
        status = "pass" if score >= target else "fail"
    return {
        "Score (95% CI)": score_cell,
        "Frames to target": f"{mean} ({len(reached)}/{len(seeds)})",
        "Status": status,
    }


def score_mismatches(cells: Mapping[str, str], run_dir: Path, target: float) -> list[str]:
    """What the published cells say differently from the raw seed files (empty: they agree)."""
    expected = expected_cells(run_dir, target)
    problems = []
    for column in ("Score (95% CI)", "Frames to target"):
        if cells.get(column) != expected[column]:
            problems.append(
                f"{column}: report says {cells.get(column)!r}, the seeds' own files give "
                f"{expected[column]!r}"
            )
    word = cells.get("Status", "").partition(" ")[2]  # "✅ pass" -> "pass"
    if word != expected["Status"]:
        problems.append(
            f"Status: report says {cells.get('Status')!r}, the seeds' own files give "
            f"{expected['Status']!r}"
        )
    return problems
