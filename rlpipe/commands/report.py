"""`rlpipe plot` and `rlpipe report`: the suite's plots and BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlpipe.commands.common import (
    SuiteOpt,
    console,
    err_console,
    shown,
    user_errors,
)
from rlpipe.spec import DEFAULT_SUITE

RunsOpt = Annotated[
    Path,
    typer.Option(
        help="Folder of run folders; refused, writing nothing, if it holds none of the suite's "
        "runs or a damaged one (`rlpipe audit` names it)."
    ),
]


@user_errors
def plot(
    suite: SuiteOpt = DEFAULT_SUITE,
    runs: RunsOpt = Path("runs"),
    out: Annotated[Path, typer.Option(help="Folder for the PNGs.")] = Path("reports/plots"),
) -> None:
    """Plot return vs frames per env, frames/s vs time, and the performance profile."""
    from rlpipe.report.plots import plot_suite
    from rlpipe.report.runs_found import require_suite_runs
    from rlpipe.spec import load_suite

    loaded = load_suite(suite)
    require_suite_runs(loaded, runs, suite)
    written = plot_suite(loaded, runs, out)
    console.print(f"wrote {len(written)} plots to {shown(out)}/")


@user_errors
def report(
    suite: SuiteOpt = DEFAULT_SUITE,
    runs: RunsOpt = Path("runs"),
    out: Annotated[Path, typer.Option(help="Reports folder.")] = Path("reports"),
) -> None:
    """Write reports/BENCHMARKS.md and reports/benchmarks.json from the suite and its runs."""
    from rlpipe.report.benchmarks import trained_seeds, write_report
    from rlpipe.report.runs_found import require_suite_runs
    from rlpipe.rundir import RunFolder
    from rlpipe.spec import load_suite

    loaded = load_suite(suite)
    require_suite_runs(loaded, runs, suite)
    markdown, data = write_report(loaded, suite, out, runs)
    console.print(f"wrote {shown(markdown)} and {shown(data)}")
    unfinished = [
        f"{key} ({len(trained_seeds(runs / key))}/{loaded.seeds} seeds trained)"
        for key in loaded.runs
        if not RunFolder(runs / key).finished()
    ]
    if unfinished:
        err_console.print(
            f"[yellow]warning:[/] {len(unfinished)} suite run(s) have no finished run folder "
            f"and show as missing or unfinished runs: {shown(', '.join(unfinished))}; "
            "`rlpipe audit` fails until they finish (training, or dvc pull)",
            highlight=False,
            soft_wrap=True,
        )
