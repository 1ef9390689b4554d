"""The report's "Against the paper's curves" section: rlpipe's evaluation returns at 100k and 300k
frames beside the reruns of references/crossq_reruns_v4.csv (the CrossQ paper's setup, 2048-wide
critics, and SAC, on MuJoCo v4, 10 seeds), for every algorithm the file has columns for."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlpipe.algos.registry import display_name
from rlpipe.errors import RlpipeError
from rlpipe.report.markdown import table_section
from rlpipe.report.references import read_reference_csv
from rlpipe.rundir import RunFolder

HEADING = "## Against the paper's curves"
CURVES = Path("references/crossq_reruns_v4.csv")
FRAMES = (100_000, 300_000)
COLUMNS = (
    "Env",
    "Algorithm",
    "rlpipe run",
    "Critic width",
    "rlpipe eval @100k",
    "v4 reruns @100k",
    "rlpipe eval @300k",
    "v4 reruns @300k",
)
_CURVE_COLUMN = re.compile(r"^(?P<algorithm>[a-z0-9]+)_(?P<thousands>[0-9]+)k$")
EMPTY = "—"


def read_curves(path: Path = CURVES) -> dict[tuple[str, str], dict[int, float]]:
    """{(env name, algorithm): {frames: mean eval return}} from the reruns CSV, for each
    algorithm with an <algorithm>_100k and _300k column; {} if the file is absent."""
    columns, records = read_reference_csv(path)
    matches = [_CURVE_COLUMN.match(column) for column in columns]
    found = {(m["algorithm"], int(m["thousands"]) * 1000): m.string for m in matches if m}
    algorithms = {a for a, _ in found if all((a, frames) in found for frames in FRAMES)}
    curves: dict[tuple[str, str], dict[int, float]] = {}
    for record in records:
        for algorithm in sorted(algorithms):
            try:
                curves[(record["env"], algorithm)] = {
                    frames: float(record[found[(algorithm, frames)]]) for frames in FRAMES
                }
            except (KeyError, TypeError, ValueError):
                raise RlpipeError(f"{path}: a row lacks a number; restore it from git") from None
    return curves


def eval_at(run_dir: Path, frames: int) -> float | None:
    """Mean over seeds of the evaluation return logged at exactly `frames`, None unless every
    seed logged one there."""
    values = []
    for seed in RunFolder(run_dir).seeds_with_metrics():
        logged = [row["eval_return"] for row in seed.read_metrics() if row["frame"] == frames]
        if not logged or logged[0] is None:
            return None
        values.append(logged[0])
    return sum(values) / len(values) if values else None


def _critic_width(run: RunFolder) -> int | None:
    """The first hidden width of the run's critic as spec.json records it, None if it does not."""
    spec = json.loads(run.spec_file.read_text(encoding="utf-8")).get("spec", {})
    hidden = spec.get("algorithm", {}).get("critic", {}).get("hidden") or [None]
    return hidden[0] if isinstance(hidden[0], int) else None


def curve_rows(
    rows: Sequence[Mapping[str, Any]], runs_root: Path, path: Path = CURVES
) -> list[dict[str, Any]]:
    """One entry per finished run (not a parity run) of an env and algorithm the reruns cover."""
    curves = read_curves(path)
    entries = []
    for row in rows:
        reference = curves.get((row["env"].split("-")[0], row["family"]))
        if reference is None or row.get("peer"):
            continue
        run_dir = Path(runs_root) / row["run"]
        if not RunFolder(run_dir).finished():
            continue
        entries.append(
            {
                "env": row["env"],
                "family": row["family"],
                "run": row["run"],
                "critic": _critic_width(RunFolder(run_dir)),
                "rlpipe": {frames: eval_at(run_dir, frames) for frames in FRAMES},
                "reruns": reference,
            }
        )
    return entries


def curve_lines(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The section: what it compares, and one table line per CrossQ run."""
    if not entries:
        return []
    intro = (
        "rlpipe: mean over seeds of the deterministic evaluation return logged at 100k and 300k "
        "frames (— where the run stops earlier), on MuJoCo v5. v4 reruns: the CrossQ paper's "
        "setup (2048-wide critics) and SAC, rerun by the SimbaV2 authors, mean over 10 seeds, on "
        "MuJoCo v4 (references/crossq_reruns_v4.csv). Versions and widths differ: a reference "
        "curve, not a like-for-like comparison."
    )
    rows = []
    for entry in entries:
        cells = [entry["env"], display_name(entry["family"]), f"runs/{entry['run']}",
                 str(entry["critic"] or EMPTY)]  # fmt: skip
        for frames in FRAMES:
            ours = entry["rlpipe"][frames]
            cells += [EMPTY if ours is None else f"{ours:.1f}", f"{entry['reruns'][frames]:.0f}"]
        rows.append(cells)
    return table_section(HEADING, intro, COLUMNS, rows)
