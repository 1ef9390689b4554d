"""Markdown tables of the report's sections."""

from __future__ import annotations

from collections.abc import Sequence


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A header line, a separator and one line per row; pipes inside cells are escaped."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(columns), line(["---"] * len(columns)), *(line(row) for row in rows)]


def table_section(
    heading: str, intro: str, columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> list[str]:
    """A report section: its heading, one paragraph saying what it shows, and its table."""
    return [heading, "", intro, "", *table(columns, rows)]
