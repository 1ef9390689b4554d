"""The rlpipe command line: the typer apps and which command each name runs.

Each command lives in rlpipe/commands/ (one module per command or group); this module only
registers them, in the order `rlpipe --help` lists them, and sets up the process in run().
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rlpipe import __version__
from rlpipe.commands import audit, bench, evaluate, hub, report, search, specs, suite, train, watch
from rlpipe.commands.common import (
    console,
    ray_without_address,
)
from rlpipe.commands.wait_policy import COMPUTE_COMMANDS, choose_omp_wait_policy

app = typer.Typer(
    name="rlpipe",
    help="Train deep-RL agents from declarative specs and publish traceable benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
spec_app = typer.Typer(help="Show and check specs in pipelines/.", no_args_is_help=True)
app.add_typer(spec_app, name="spec")


def _version(value: bool) -> None:
    if value:
        console.print(f"rlpipe {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Train deep-RL agents from declarative specs and publish traceable benchmarks."""


app.command("ls")(specs.list_specs)
spec_app.command("show")(specs.spec_show)
spec_app.command("check")(specs.spec_check)
app.command("train")(train.train)
app.command("summarize")(train.summarize)
app.command("eval")(evaluate.eval_run)
app.command("compare")(evaluate.compare)
app.command("enjoy")(watch.enjoy)
app.command("plot")(report.plot)
app.command("report")(report.report)


app.command("audit")(audit.audit)
app.command("publish")(hub.publish)
app.command("pull")(hub.pull)
app.command("bench")(bench.bench)

suite_app = typer.Typer(
    help="The benchmark suite as DVC stages: write them, run them here or on Ray.",
    no_args_is_help=True,
)
app.add_typer(suite_app, name="suite")

suite_app.command("stages")(suite.suite_stages)
suite_app.command("fingerprint")(suite.suite_fingerprint)
app.command("search")(search.search)
suite_app.command("run")(suite.suite_run)
suite_app.command("plan")(suite.suite_plan)


def run() -> None:
    """Console-script entry point."""
    if COMPUTE_COMMANDS.intersection(sys.argv[1:2]):
        choose_omp_wait_policy()
    app(args=ray_without_address(sys.argv[1:]))
