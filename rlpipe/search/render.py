"""rich renderings of a search for the CLI: live trial progress and the final trial table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rlpipe.search.report import SearchReport
from rlpipe.search.study import SearchEvent

if TYPE_CHECKING:
    from types import TracebackType


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


class SearchProgress:
    """A bar for the trials finished, and one per running trial (frames, last value)."""

    def __init__(self, console: Console, trials: int, max_frame: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._trials, self._max_frame = trials, max_frame
        self._overall: Any = None
        self._running: dict[int, Any] = {}

    def __enter__(self) -> SearchProgress:
        self._progress.__enter__()
        self._overall = self._progress.add_task("trials", total=self._trials, status="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, traceback)

    def update(self, event: SearchEvent) -> None:
        """Show a trial starting, logging a value, or ending."""
        if event.kind == "start":
            self._running[event.trial] = self._progress.add_task(
                f"trial {event.trial}", total=self._max_frame, status="starting"
            )
        elif event.kind == "value" and event.trial in self._running:
            self._progress.update(
                self._running[event.trial], completed=event.frame, status=_number(event.value)
            )
        elif event.kind == "end":
            task = self._running.pop(event.trial, None)
            if task is not None:
                self._progress.remove_task(task)
            self._progress.advance(self._overall)
            self._progress.console.print(
                f"trial {event.trial}: {str(event.state).lower()}, {_number(event.value)}"
                + (f" at frame {event.frame:,}" if event.frame else "")
            )


def trials_table(report: SearchReport, objective: str) -> Table:
    """Every trial: values, objective, state, frames and wall time; the best in bold."""
    keys = sorted({key for row in report.rows for key in row.params})
    table = Table(title=f"{report.folder}  (objective: {objective})")
    for column in ("#", *keys, objective, "state", "frames", "wall s"):
        table.add_column(column, justify="right")
    for row in report.rows:
        best = report.best is not None and row.number == report.best.number
        table.add_row(
            str(row.number),
            *(_value(row.params.get(key)) for key in keys),
            _number(row.value),
            row.state.lower(),
            "-" if row.frames is None else f"{row.frames:,}",
            "-" if row.wall_s is None else f"{row.wall_s:.0f}",
            style="bold" if best else None,
        )
    return table


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
