"""The rlpipe command line: the typer apps and which command each name runs.

Each command lives in rlpipe/commands/ (one module per command or group); this module only
registers them, in the order `rlpipe --help` lists them, and sets up the process in run().
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rlpipe import __version__
from rlpipe.commands import bench, evaluate, report, search, specs, suite, train, watch
from rlpipe.commands.common import (
    PipelinesOpt,
    SuiteOpt,
    console,
    print_table,
    ray_without_address,
    shown,
    user_errors,
)
from rlpipe.commands.wait_policy import COMPUTE_COMMANDS, choose_omp_wait_policy
from rlpipe.spec import DEFAULT_SUITE

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


@app.command()
@user_errors
def audit(
    suite: SuiteOpt = DEFAULT_SUITE,
    online: Annotated[
        bool,
        typer.Option("--online", help="Also check Hub links and published model cards (Hub)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON.")] = False,
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Fail (exit 1) if any published number, link, plot or spec no longer matches its run.

    Checks: missing-run, missing-plot, wrong-link, number-mismatch, data-mismatch,
    status-mismatch, spec-drift, over-budget, dvc-lock-mismatch, stale-stage, suite-mismatch,
    missing-replay, and with --online card-mismatch.
    """
    from rlpipe.report.audit import AuditPaths, findings_json, offline_audit, sorted_findings
    from rlpipe.spec import load_suite

    loaded = load_suite(suite)
    offline = offline_audit(loaded, AuditPaths(suite=suite, pipelines=pipelines))
    findings = offline.findings
    if online:
        from rlpipe.hub.audit import check_hub_runs

        findings = sorted_findings([*findings, *check_hub_runs(loaded.hub_repo, offline.hub_runs)])
    if as_json:
        sys.stdout.write(findings_json(findings) + "\n")
    elif findings:
        table = Table(title=f"audit: {len(findings)} findings")
        for column in ("check", "row", "finding"):
            table.add_column(column)
        for finding in findings:
            table.add_row(finding.check, shown(finding.row), shown(finding.message))
        print_table(table)
    else:
        console.print("audit passed: every published number, link, plot and spec matches its run")
    if findings:
        raise typer.Exit(1)


@app.command()
@user_errors
def publish(
    run_keys: Annotated[
        list[str] | None, typer.Argument(help="Run folder names; default: every suite run.")
    ] = None,
    suite: SuiteOpt = DEFAULT_SUITE,
    repo: Annotated[
        str | None, typer.Option(help="Hub dataset repo id; default: the suite's hub_repo.")
    ] = None,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay/--no-replay",
            help="Put a replay GIF on each run's model card (renders the env: MuJoCo needs an "
            "offscreen GL, see the README).",
        ),
    ] = True,
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Upload runs (weights, no optimizer state) with generated model cards; relink the report."""
    from rlpipe.hub.publish import publish_runs
    from rlpipe.report.benchmarks import write_report
    from rlpipe.spec import load_suite

    loaded = load_suite(suite)
    with console.status("checking the runs and making their model cards", spinner="dots"):
        urls = publish_runs(
            run_keys or list(loaded.runs),
            repo or loaded.hub_repo,
            replay=replay,
            pipelines=pipelines,
        )
    for key, url in urls.items():
        console.print(f"{key}: {url}")
    write_report(loaded, suite)
    console.print("report links now point at the Hub")


@app.command()
@user_errors
def pull(
    repo_id: Annotated[str, typer.Argument(help="Hub dataset repo id, e.g. rlpipe/benchmarks.")],
    run_key: Annotated[str, typer.Argument(help="Run name in the repo, e.g. crossq-hopper.")],
    out: Annotated[Path | None, typer.Option(help="Run folder; default runs/RUN_KEY.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing folder at --out.")
    ] = False,
) -> None:
    """Download a published run (weights, spec, summary, card), checked against its card.

    Nothing is written when a file's sha256, the spec hash or a number differs from the card.

    HF_ENDPOINT and HF_TOKEN choose the Hub and the token, as for publish."""
    from rlpipe.hub.pull import pull_run

    pulled = pull_run(repo_id, run_key, out, overwrite)
    facts = pulled.facts
    where = shown(pulled.path)
    console.print(
        f"pulled {shown(run_key)} into [bold]{where}[/]: spec hash [cyan]{facts.spec_hash[:12]}[/], "
        f"{len(facts.files)} files checked against the card"
    )
    console.print(f"next: rlpipe eval {where}   # the card says eval return {facts.eval_return}")
    console.print(f"      rlpipe enjoy {where} --video {where}/replay.mp4")


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


def run() -> None:
    """Console-script entry point."""
    if COMPUTE_COMMANDS.intersection(sys.argv[1:2]):
        choose_omp_wait_policy()
    app(args=ray_without_address(sys.argv[1:]))
