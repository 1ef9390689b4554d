"""The audit's second path to a row's numbers: from the raw per-seed files (result.json,
metrics.csv) through the one definition of the score (rlpipe.rundir.summary.summarize), without
the report's row builder, so that a bug there cannot pass the audit by agreeing with itself.

The same path re-summarizes the seeds the run's spec names and holds summary.json to it: the
report reads eval return, frames, fps, compute and the aggregate's per-seed scores from there."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rlpipe.errors import RlpipeError
from rlpipe.rundir import SUMMARY_FILE, RunFolder
from rlpipe.rundir.folder import read_json
from rlpipe.rundir.summary import summarize
from rlpipe.spec.schema import MetaSpec

EMPTY = "—"


def _decimal(value: float) -> str:
    return f"{value:.1f}"


def _score_cell(summary: Mapping[str, Any]) -> str:
    score, ci95 = summary["score"], summary["score_ci95"]
    if score is None:
        return EMPTY
    if ci95 is None:
        return _decimal(score)
    return f"{_decimal(score)} [{_decimal(ci95[0])}, {_decimal(ci95[1])}]"


def _status(score: float | None, target: float) -> str:
    if score is None or not math.isfinite(score):
        return "no score"
    return "pass" if score >= target else "fail"


def _first_frame_at(rows: list[dict[str, float | None]], target: float) -> float | None:
    for row in rows:
        value, frame = row.get("return_ma"), row.get("frame")
        if value is not None and frame is not None and value >= target:
            return frame
    return None


def _seed_summary(run: RunFolder) -> tuple[list[int], dict[str, Any]]:
    """The seeds the run's spec names and summarize() over their result.json files."""
    try:
        seeds = MetaSpec.model_validate(run.read_meta()).seed_list
    except ValidationError as error:
        raise RlpipeError(
            f"spec.json's meta does not validate: {error.errors()[0]['msg']}"
        ) from None
    results = {seed: run.seed(seed).read_result() for seed in seeds}
    missing = [seed for seed, result in results.items() if result is None]
    if missing:
        raise RlpipeError(f"seeds {', '.join(map(str, missing))} have no result.json")
    try:
        summary = summarize(str(run.path), [r.model_dump() for r in results.values() if r])
    except ValueError as error:
        raise RlpipeError(str(error)) from None
    return seeds, json.loads(json.dumps(summary))  # as summary.json stores it: lists, not tuples


def expected_cells(run_dir: Path, target: float) -> dict[str, str]:
    """Score (95% CI), Frames to target and the status word of a finished run, from the
    result.json and metrics.csv of the seeds its spec names (RlpipeError if they are not all
    there or do not add up to a run)."""
    run = RunFolder(run_dir)
    seeds, summary = _seed_summary(run)
    reached = [
        frame
        for seed in seeds
        if (frame := _first_frame_at(run.seed(seed).read_metrics(), target)) is not None
    ]
    mean = f"{sum(reached) / len(reached):,.0f}" if reached else EMPTY
    return {
        "Score (95% CI)": _score_cell(summary),
        "Frames to target": f"{mean} ({len(reached)}/{len(seeds)})",
        "Status": _status(summary["score"], target),
    }


def summary_mismatches(run_dir: Path) -> list[str]:
    """Fields of summary.json that differ from summarize() over the seeds' own result.json."""
    run = RunFolder(run_dir)
    try:
        _, expected = _seed_summary(run)
    except RlpipeError as error:
        return [f"{SUMMARY_FILE}: cannot re-derive it from the seeds: {error}"]
    try:
        saved = read_json(run.summary_file, f"re-run rlpipe summarize {run.path}")
    except RlpipeError as error:
        return [f"{SUMMARY_FILE}: {error}"]
    if not isinstance(saved, dict):
        return [f"{SUMMARY_FILE}: {run.summary_file} is not a JSON object"]
    return [
        f"{SUMMARY_FILE}: {field} says {saved.get(field)!r}, the seeds' result.json give "
        f"{expected.get(field)!r}"
        for field in sorted(saved.keys() | expected.keys())
        if saved.get(field) != expected.get(field)
    ]


def score_mismatches(cells: Mapping[str, str], run_dir: Path, target: float) -> list[str]:
    """What the published cells say differently from the raw seed files (empty: they agree),
    each "Column: ..." ("summary.json: ..." for the summary the other cells are read from)."""
    try:
        expected = expected_cells(run_dir, target)
    except RlpipeError as error:
        return [f"Score (95% CI): cannot re-derive it from {run_dir}'s seeds: {error}"]
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
    return problems + summary_mismatches(run_dir)
