"""`rlpipe ls` and `rlpipe spec show|check`: the specs in pipelines/."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rlpipe.commands.common import (
    FamilyArg,
    OverridesOpt,
    PipelinesOpt,
    SpecArg,
    console,
    err_console,
    print_table,
    shown,
    user_errors,
)
from rlpipe.spec import check_all, resolve_spec


@user_errors
def list_specs(pipelines: PipelinesOpt = Path("pipelines")) -> None:
    """List every family and spec with its env, algorithm and frame budget."""
    table = Table(title=f"specs in {shown(pipelines)}/")
    for column in ("family", "spec", "env", "algorithm", "max_frame", "hash"):
        table.add_column(column)
    checks = check_all(pipelines)
    for check in checks:
        if check.resolved is None:
            table.add_row(shown(check.family), shown(check.name), "[red]invalid[/]", "", "", "")
            continue
        spec = check.resolved.spec
        table.add_row(
            shown(spec.family),
            shown(spec.name),
            shown(spec.env.id),
            spec.algorithm.name,
            f"{spec.env.max_frame:,}",
            check.resolved.spec_hash[:12],
        )
    print_table(table)
    for check in checks:
        if check.error:
            err_console.print(
                f"[red]invalid[/] {shown(check.error)}", highlight=False, soft_wrap=True
            )


@user_errors
def spec_show(
    family: FamilyArg,
    spec: SpecArg,
    overrides: OverridesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Print a resolved spec, its hash and the frame at which each of its schedules ends."""
    resolved = resolve_spec(family, spec, overrides or [], pipelines)
    horizons = resolved.spec.algorithm.horizons()
    document = {
        "spec_hash": resolved.spec_hash,
        "spec": resolved.spec.model_dump(mode="json"),
        "horizons": horizons,
    }
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        return
    console.print(f"[bold]{family}/{spec}[/] from {shown(resolved.source)}")
    console.print(f"spec hash: [cyan]{resolved.spec_hash}[/]")
    console.print_json(data=document["spec"])
    console.print(
        schedule_lines(horizons, resolved.spec.env.max_frame), highlight=False, soft_wrap=True
    )


def schedule_lines(horizons: dict[str, float], max_frame: int) -> str:
    """Where each schedule ends, against the run's length."""
    if not horizons:
        return "schedules: none depends on the number of frames"
    lines = [f"schedules ({max_frame:,} frames trained):"]
    for name, frame in horizons.items():
        note = (
            ""
            if frame <= max_frame
            else f" (after this run ends: {max_frame / frame:.0%} of it runs)"
        )
        lines.append(f"  {name} at frame {frame:,.0f}{note}")
    return "\n".join(lines)


@user_errors
def spec_check(
    families: Annotated[
        list[str] | None, typer.Argument(help="Families to check; all when omitted.")
    ] = None,
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Load and validate every spec; exit 1 if any fails."""
    results = check_all(pipelines, families or [])
    failures = [r for r in results if r.error]
    for failure in failures:
        err_console.print(f"[red]FAIL[/] {shown(failure.error)}", highlight=False, soft_wrap=True)
    console.print(
        f"{len(results) - len(failures)} of {len(results)} specs valid"
        + (f", [red]{len(failures)} invalid[/]" if failures else "")
    )
    if failures:
        raise typer.Exit(1)
