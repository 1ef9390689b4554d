"""rlpipe audit: the offline audit of BENCHMARKS.md against the runs, and with --online the
Hub's links and model cards."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rlpipe.commands.common import PipelinesOpt, SuiteOpt, console, print_table, shown, user_errors
from rlpipe.spec import DEFAULT_SUITE


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

    Checks: missing-run, damaged-run (a run file missing or unreadable: restore it with git
    checkout or dvc checkout), missing-plot, wrong-link, number-mismatch, data-mismatch,
    status-mismatch, spec-drift, over-budget, dvc-lock-mismatch, stale-stage, unrun-stage,
    suite-mismatch, report-drift (the whole report against what `rlpipe report` writes,
    once the other checks find nothing in it), missing-replay, and with --online card-mismatch.
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
