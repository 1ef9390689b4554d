"""The reference CSVs of references/ (comment lines starting with #, then a header and rows):
one reader for all of them."""

from __future__ import annotations

import csv
from pathlib import Path


def read_reference_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(column names, records) of a references CSV; ([], []) if the file is absent."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines)
    return list(reader.fieldnames or []), list(reader)
