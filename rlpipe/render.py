"""rich renderings used by the CLI: training progress and run summaries."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rlpipe.loops.seedloop import SeedProgress
from rlpipe.rundir import Summary

if TYPE_CHECKING:
    from types import TracebackType


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


class TrainingProgress:
    """One progress bar per seed: frames, frames/s, recent return, last eval return."""

    def __init__(self, console: Console, disable: bool = False) -> None:
        self._progress = Progress(
            TextColumn("seed {task.fields[seed]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("frames  {task.fields[fps]} fps  return {task.fields[ret]}"),
            TextColumn("eval {task.fields[eval]}"),
            TimeRemainingColumn(),
            console=console,
            disable=disable,
        )
        self._tasks: dict[int, Any] = {}

    def __enter__(self) -> TrainingProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, traceback)

    def update(self, event: SeedProgress) -> None:
        """Show one log point."""
        if event.seed not in self._tasks:
            self._tasks[event.seed] = self._progress.add_task(
                "", total=event.max_frame, seed=event.seed, fps="-", ret="-", eval="-"
            )
        self._progress.update(
            self._tasks[event.seed],
            completed=event.frame,
            fps=_number(event.fps, 0),
            ret=_number(event.return_ma),
            eval=_number(event.eval_return),
        )


def summary_table(run_dir: Path, summary: Summary) -> Table:
    """The run's summary: score with its CI, eval return, frames, speed and wall time."""
    title = f"{escape(str(run_dir))}  (score = final training-return moving average)"
    table = Table(title=title)
    for column in ("seed", "score", "eval return", "frames", "frames/s", "wall s"):
        table.add_column(column, justify="right")
    for row in summary.per_seed:
        table.add_row(
            str(row.seed),
            _number(row.return_ma),
            _number(row.eval_return),
            f"{row.frames:,}",
            _number(row.fps, 0),
            _number(row.wall_s, 0),
        )
    ci = summary.score_ci95
    score = _number(summary.score)
    if ci:
        score += f" [{_number(ci[0])}, {_number(ci[1])}]"
    table.add_row(
        "all",
        score,
        _number(summary.eval_return),
        f"{summary.frames:,}",
        _number(summary.fps, 0),
        _number(summary.wall_s, 0),
        style="bold",
    )
    return table


def bench_table(record: dict[str, Any]) -> Table:
    """Each side's median round of a bench record, and the ratio."""
    window = record["window"]
    title = (
        f"{record['family']}/{record['spec']} {record['env']}: "
        f"{record['sides']['rlpipe']['median']['frames']:,} frames timed "
        f"on {window['device']} ({window['threads']} threads), "
        f"{'compiled' if window['compile'] else 'eager'}"
    )
    table = Table(title=title)
    for column in ("side", "env frames/s", "updates/s", "ms/update", "warm-up s",
                   "peak host MiB", "peak GPU MiB"):  # fmt: skip
        table.add_column(column, justify="left" if column == "side" else "right")
    for side, data in record["sides"].items():
        m = data["median"]
        table.add_row(
            side,
            _number(m["env_fps"]),
            _number(m["updates_per_s"]),
            _number(m["ms_per_update"], 2),
            _number(m["warmup_s"]),
            _number(m["peak_host_mb"], 0),
            _number(m["peak_gpu_mb"], 0),
        )
    captions = [
        f"{label} updates per second: {record[key]:.2f}x"
        for key, label in (
            ("ratio", "rlpipe / sb3"),
            ("bf16_ratio", "bf16 / fp32"),
            ("bf16_vs_sb3", "bf16 / sb3"),
        )
        if record.get(key) is not None
    ]
    if captions:
        table.caption = "; ".join(captions)
    return table
