"""metrics.csv: one row per log point, appended with a single write each, read back exactly."""

from __future__ import annotations

import contextlib
import numbers
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rlpipe.errors import RlpipeError
from rlpipe.rundir.atomic import atomic_write_bytes, atomic_write_text, write_error

WALL_CLOCK_COLUMNS = ("wall_s", "fps")
"""metrics.csv columns that legitimately differ between two otherwise identical runs."""

_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")


def _format_cell(column: str, value: Any) -> str:
    """Return the CSV text of one metric value: '' for None, exact ints, '.10g' floats."""
    if value is None:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return format(float(value), ".10g")
    raise ValueError(f"metrics column {column!r} needs a number or None, got {value!r}")


def _parse_cell(path: Path, line_number: int, cell: str) -> float | None:
    """Return a metrics cell as float, None when empty; raise RlpipeError when not a number."""
    if cell == "":
        return None
    try:
        return float(cell)
    except ValueError:
        raise RlpipeError(
            f"{path}, line {line_number}: {cell!r} is not a number; the metrics file is corrupt"
        ) from None


def _complete_lines(path: Path) -> list[str]:
    """Return the newline-terminated lines of `path` without newlines (a torn tail is left out)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RlpipeError(f"no metrics file at {path}: was this seed trained?") from None
    except OSError as error:
        raise RlpipeError(f"could not read {path}: {error.strerror or error}") from error
    return text.split("\n")[:-1]


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, float | None]]:
    """Return the complete rows of a metrics.csv as dicts of float, None for empty cells."""
    source = Path(path)
    lines = _complete_lines(source)
    if not lines:
        return []
    columns = lines[0].split(",")
    rows = []
    for line_number, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(columns):
            raise RlpipeError(
                f"{source}, line {line_number}: {len(cells)} cells for {len(columns)} columns; "
                "the metrics file is corrupt"
            )
        cells_by_column = zip(columns, cells, strict=True)
        rows.append(
            {column: _parse_cell(source, line_number, cell) for column, cell in cells_by_column}
        )
    return rows


def truncate_after(path: str | os.PathLike[str], frame: int) -> int:
    """Atomically keep only the rows with frame <= `frame` (and drop a torn tail); return kept.

    Resume calls this before reopening the log with MetricsLog, so that rows logged after the
    checkpoint are neither duplicated nor lost.
    """
    source = Path(path)
    lines = _complete_lines(source)
    if not lines:
        atomic_write_text(source, "")
        return 0
    columns = lines[0].split(",")
    if "frame" not in columns:
        raise RlpipeError(f"{source} has no 'frame' column (columns: {', '.join(columns)})")
    frame_index = columns.index("frame")
    kept = [lines[0]]
    for line_number, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(columns):
            raise RlpipeError(
                f"{source}, line {line_number}: {len(cells)} cells for {len(columns)} columns; "
                "the metrics file is corrupt"
            )
        row_frame = _parse_cell(source, line_number, cells[frame_index])
        if row_frame is None:
            raise RlpipeError(f"{source}, line {line_number}: the frame cell is empty")
        if row_frame <= frame:
            kept.append(line)
    atomic_write_text(source, "".join(line + "\n" for line in kept))
    return len(kept) - 1


class MetricsLog:
    """Append-only metrics.csv of one seed, with columns fixed when it is created."""

    def __init__(self, path: str | os.PathLike[str], columns: Iterable[str]) -> None:
        """Open (or create with a header) the metrics file; drop a torn last line if present."""
        self.path = Path(path)
        self.columns: tuple[str, ...] = tuple(columns)
        self._check_columns()
        header = ",".join(self.columns)
        existing = self._drop_torn_tail()
        if existing == "":
            atomic_write_text(self.path, header + "\n")
        elif existing.split("\n", 1)[0] != header:
            found = existing.split("\n", 1)[0]
            raise RlpipeError(
                f"{self.path} has columns [{found}] but this run logs [{header}]; resume with the "
                "same spec, or move the old run folder away"
            )
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as error:
            raise RlpipeError(f"could not open {self.path}: {error.strerror or error}") from error

    def _check_columns(self) -> None:
        """Raise ValueError unless columns are unique, non-empty, CSV-safe names."""
        if not self.columns:
            raise ValueError("MetricsLog needs at least one column")
        bad = [name for name in self.columns if not _COLUMN_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"invalid metrics column names {bad}: use letters, digits, _ . : / -")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"duplicate metrics columns in {list(self.columns)}")

    def _drop_torn_tail(self) -> str:
        """Return the file's complete text, first rewriting it atomically without a torn tail."""
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return ""
        except OSError as error:
            raise RlpipeError(f"could not read {self.path}: {error.strerror or error}") from error
        if content and not content.endswith(b"\n"):
            content = content[: content.rfind(b"\n") + 1]
            atomic_write_bytes(self.path, content)
        return content.decode("utf-8")

    def append(self, row: Mapping[str, Any]) -> None:
        """Append one row as a single write + fsync; unknown keys raise, missing keys are empty."""
        unknown = sorted(set(row) - set(self.columns))
        if unknown:
            raise ValueError(
                f"unknown metrics columns {unknown}; this log has {list(self.columns)}"
            )
        if self._fd is None:
            raise ValueError(f"MetricsLog for {self.path} is closed")
        cells = [_format_cell(column, row.get(column)) for column in self.columns]
        line = (",".join(cells) + "\n").encode("utf-8")
        size_before = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes)")
            os.fsync(self._fd)
        except OSError as error:
            # If even this fails, the torn line is dropped when the log is next opened.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size_before)
            raise write_error(self.path, error) from error

    def close(self) -> None:
        """Close the file; further appends raise."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> MetricsLog:
        """Return self, closed on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the file."""
        self.close()

    def __del__(self) -> None:
        """Close the file if the owner forgot to."""
        if getattr(self, "_fd", None) is not None:
            self.close()
