"""The Replays section of BENCHMARKS.md: a short GIF of each run's policy beside its score.

The GIFs are made by the suite's replay-<run> DVC stages (`rlpipe enjoy ... --video`) from each
run's weights when the suite sets `replays: true`; the section's score cell is the one of the
run's row in its category table, and `rlpipe audit` checks both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

REPLAYS_HEADING = "## Replays"
REPLAYS_FOLDER = "replays"
"""Folder of the GIFs, under the reports folder (reports/replays/<run>.gif)."""
GIF_MAGIC = (b"GIF87a", b"GIF89a")
REPLAY_COLUMNS = ("Run", "Env", "Algorithm", "Score (95% CI)", "Replay")
_RUN = re.compile(r"^`(?P<key>[^`]+)`$")
_IMAGE = re.compile(r"^!\[[^\]]*\]\((?P<path>[^)]+)\)$")


def replay_path(run_key: str) -> str:
    """The GIF of a run, relative to the reports folder: replays/<run>.gif."""
    return (PurePosixPath(REPLAYS_FOLDER) / f"{run_key}.gif").as_posix()


def is_replay_image(path: str) -> bool:
    """Whether an image path of the report is a replay GIF (not a plot)."""
    return PurePosixPath(path).parts[:1] == (REPLAYS_FOLDER,) and path.endswith(".gif")


def replay_lines(
    rows: Sequence[Mapping[str, Any]], cells: Mapping[str, Mapping[str, str]], steps: int
) -> list[str]:
    """The Replays section: one table line per rlpipe run that has weights (`cells`: each
    run's formatted row cells, as the category tables show them); peer runs have no replay."""
    with_runs = [row for row in rows if row.get("spec_hash") and not row.get("peer")]
    if not with_runs:
        return []
    lines = [
        REPLAYS_HEADING,
        "",
        f"Each run's first seed, deterministic policy: up to {steps} steps of `rlpipe eval`'s "
        "first episode, made from the run's weights by its `replay-<run>` stage in dvc.yaml.",
        "",
        "| " + " | ".join(REPLAY_COLUMNS) + " |",
        "| " + " | ".join("---" for _ in REPLAY_COLUMNS) + " |",
    ]
    for row in with_runs:
        key = row["run"]
        own = cells[key]
        line = (f"`{key}`", own["Env"], own["Algorithm"], own["Score (95% CI)"],
                f"![replay of {key}]({replay_path(key)})")  # fmt: skip
        lines.append("| " + " | ".join(line) + " |")
    return lines


def parse_replay_rows(text: str) -> dict[str, dict[str, str]]:
    """The rows of a BENCHMARKS.md's Replays table as {run: {column: cell, "image": path}}."""
    rows: dict[str, dict[str, str]] = {}
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.strip() == REPLAYS_HEADING
            continue
        if not inside or not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        run = _RUN.match(cells[0]) if cells else None
        if run is None or len(cells) != len(REPLAY_COLUMNS):
            continue
        row = dict(zip(REPLAY_COLUMNS, cells, strict=True))
        image = _IMAGE.match(row["Replay"])
        row["image"] = image["path"] if image else ""
        rows[run["key"]] = row
    return rows
