"""Compare two folders of seeded runs (tools/seeded_runs.sh): metrics.csv without the wall-clock
columns, and each seed's final numbers. Exit 1 if any run differs.

    python tools/compare_runs.py /tmp/before /tmp/after
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

WALL_CLOCK = {"wall_s", "fps"}
RESULT_KEYS = ("return_ma", "eval_return", "frames")


def compare_seed(before: Path, after: Path) -> list[str]:
    """The differences between one seed's files before and after (empty: identical)."""
    rows_b = list(csv.DictReader((before / "metrics.csv").read_text().splitlines()))
    rows_a = list(csv.DictReader((after / "metrics.csv").read_text().splitlines()))
    problems = []
    if len(rows_a) != len(rows_b):
        problems.append(f"{len(rows_b)} rows before, {len(rows_a)} after")
    columns_b, columns_a = set(rows_b[0]), set(rows_a[0])
    dropped = [c for c in columns_b - columns_a if any(r[c] for r in rows_b)]
    if dropped:
        problems.append(f"columns with values dropped: {sorted(dropped)}")
    if columns_a - columns_b:
        problems.append(f"new columns: {sorted(columns_a - columns_b)}")
    common = sorted((columns_a & columns_b) - WALL_CLOCK)
    for index, (row_b, row_a) in enumerate(zip(rows_b, rows_a, strict=False)):
        problems += [
            f"row {index} {c}: {row_b[c]} -> {row_a[c]}" for c in common if row_b[c] != row_a[c]
        ]
    result_b = json.loads((before / "result.json").read_text())
    result_a = json.loads((after / "result.json").read_text())
    problems += [
        f"result {k}: {result_b[k]} -> {result_a[k]}"
        for k in RESULT_KEYS
        if result_b[k] != result_a[k]
    ]
    return problems


def main() -> int:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    differ = 0
    for seed_b in sorted(before.glob("*/seed-*")):
        seed_a = after / seed_b.relative_to(before)
        problems = compare_seed(seed_b, seed_a)
        print(f"{seed_b.relative_to(before)}: {'identical' if not problems else 'DIFFERENT'}")
        for problem in problems[:5]:
            print(f"    {problem}")
        differ += bool(problems)
    print("all identical" if not differ else f"{differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
