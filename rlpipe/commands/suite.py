"""`rlpipe suite stages|fingerprint|run`: the benchmark suite as DVC stages."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from rlpipe.commands.common import (
    RAY_LOCAL,
    PipelinesOpt,
    RayOpt,
    SuiteOpt,
    console,
    err_console,
    print_table,
    shown,
    user_errors,
)
from rlpipe.errors import RlpipeError
from rlpipe.spec import DEFAULT_SUITE

if TYPE_CHECKING:
    from rlpipe.suite_plan import LastCost


@user_errors
def suite_stages(
    suite: SuiteOpt = DEFAULT_SUITE,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if dvc.yaml is out of date; write nothing.")
    ] = False,
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Write dvc.yaml from the suite file: train (per seed group), summarize, eval, plot, report."""
    from rlpipe.rundir import atomic_write_text
    from rlpipe.spec import load_suite
    from rlpipe.stages import DVC_FILE, render_dvc_yaml

    if pipelines.resolve() != Path("pipelines").resolve():
        raise RlpipeError(
            f"--pipelines {pipelines} (or RLPIPE_PIPELINES): the stages run `rlpipe train` on "
            "./pipelines, whose specs DVC tracks as the stages' params; put the pipeline files "
            "there"
        )
    text = render_dvc_yaml(load_suite(suite), suite, pipelines)
    current = Path(DVC_FILE).read_text(encoding="utf-8") if Path(DVC_FILE).exists() else None
    if check:
        if current != text:
            again = "" if suite == Path(DEFAULT_SUITE) else f" --suite {shlex.quote(str(suite))}"
            err_console.print(f"{DVC_FILE} is out of date: run rlpipe suite stages{again}")
            raise typer.Exit(1)
        console.print(f"{DVC_FILE} is up to date with {suite}")
        return
    atomic_write_text(Path(DVC_FILE), text)
    console.print(f"wrote {DVC_FILE} from {suite}; `dvc repro` runs the stages not yet done")


@user_errors
def suite_fingerprint(
    files: Annotated[list[Path], typer.Argument(help="Source files, relative to the project.")],
    out: Annotated[Path, typer.Option("--out", help="The fingerprint file to write.")],
) -> None:
    """Write the code fingerprint of source files, which train and eval stages depend on.

    The fingerprint digests what the files do, blind to docstrings, comments and type
    annotations (rlpipe/fingerprint.py)."""
    from rlpipe.fingerprint import write_fingerprint

    for path in files:
        if not path.is_file():
            raise RlpipeError(f"{shown(path)}: no such source file")
    try:
        write_fingerprint([path.as_posix() for path in files], out)
    except SyntaxError as exc:
        raise RlpipeError(f"{shown(exc.filename)}:{exc.lineno}: not Python: {exc.msg}") from None
    console.print(f"wrote {shown(out)} ({len(files)} files)")


@user_errors
def suite_run(
    ray: RayOpt = None,
    repro: Annotated[
        bool,
        typer.Option(
            "--repro/--no-repro",
            help="Run `dvc repro --allow-missing` (eval, plot, report) after.",
        ),
    ] = True,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Train just this suite run's stale stages, or one seed group's (RUN/seeds-0-1: "
            "a row trained over several sessions); repeatable.",
            metavar="RUN[/GROUP]",
        ),
    ] = None,
    git_commit: Annotated[
        bool,
        typer.Option(
            "--git-commit",
            help="Also git-commit each finished stage (dvc.lock, its run files, the .gitignore "
            "of its cached outputs), and the repro after: a session that ends abruptly keeps "
            "every stage it finished. Nothing else is added. Refuses to start while what the "
            "stages come from (spec keys, code, report code) differs from git's HEAD.",
        ),
    ] = False,
    time_limit: Annotated[
        str | None,
        typer.Option(
            "--time-limit",
            metavar="DURATION",
            help="Start no train stage that would end later than this after the command "
            "starts (2h30m, 90m, 1.5h), at the pace of this run's earlier stages or of its last "
            "training; those are left for a later run. Leave room for the eval and report.",
        ),
    ] = None,
) -> None:
    """Train the stale DVC train stages (here or on Ray), commit them, then `dvc repro`.

    Each running stage's frames so far are shown every minute (every 5 when the output is not
    a terminal, as a nohup log), with the time it has left at its pace so far.
    """
    from rlpipe.launch import sigterm_as_interrupt
    from rlpipe.suite_deadline import parse_duration
    from rlpipe.suite_run import run_suite

    address = None if ray in (None, RAY_LOCAL) else ray
    limit_s = None if time_limit is None else parse_duration(time_limit)

    def show(message: str) -> None:  # one line per message, also in a log (no wrapping)
        console.print(escape(message), highlight=False, soft_wrap=True)

    try:
        with sigterm_as_interrupt():
            every_s = 60.0 if sys.stdout.isatty() else 300.0  # a log file: fewer lines
            result = run_suite(Path.cwd(), ray is not None, address, repro, show,
                               tuple(only or ()), git_commit, every_s, limit_s)  # fmt: skip
    except KeyboardInterrupt:
        err_console.print("interrupted: stages that finished are committed")
        raise typer.Exit(130) from None
    console.print(
        f"trained {len(result.trained)} stale train stages"
        + (f", left {len(result.left)} for a later run" if result.left else "")
        + (", dvc repro done" if result.reproduced else "")
    )


@user_errors
def suite_plan(
    suite: SuiteOpt = DEFAULT_SUITE,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if any train stage is stale (for CI).")
    ] = False,
) -> None:
    """List the train stages `rlpipe suite run` would train, why, and what they last cost.

    Each stale stage (as `dvc repro` would train it) with why it is stale and the compute its
    seeds took when the run last trained, then the stages' inputs that git has not committed
    yet (`suite run --git-commit` waits for them). Trains nothing."""
    from rich.table import Table

    from rlpipe.report.benchmarks import compute_text
    from rlpipe.suite_plan import duration_text, plan_suite, this_machine

    with err_console.status("comparing the train stages with dvc.lock (dvc status) ..."):
        planned = plan_suite(Path.cwd(), suite)
    if not planned:
        console.print("no stale train stages: `dvc repro` trains nothing")
        _warn_uncommitted()
        return
    cpus, model = this_machine()
    table = Table(title=f"{len(planned)} stale train stages", title_justify="left")
    for column in ("Stage", "Seeds", "Frames/seed", "What changed", "Last run",
                   f"About, here ({cpus} cores)", "Measured on"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for stage in planned:
        last, wall = stage.last, stage.cpu_wall_s(cpus)
        table.add_row(
            shown(stage.name),
            ", ".join(map(str, stage.seeds)),
            f"{stage.frames:,}",
            shown("; ".join(stage.changes)),
            _last_run_text(last),
            "-" if wall is None else duration_text(wall),
            shown(last.measured_on or "-") if last else "-",
        )
    print_table(table)
    measured = [stage.last for stage in planned if stage.last is not None]
    unknown = len(planned) - len(measured)
    if measured:
        cpu_s = sum(last.cpu_core_s for last in measured)
        gpu_s = sum(last.gpu_s for last in measured)
        total = f"{len(measured)} of {len(planned)} as they last took: {compute_text(cpu_s, gpu_s)}"
        if stand_ins := sum(1 for last in measured if last.from_seeds):
            total += f" ({stand_ins} at the pace of their run's other seeds)"
        wall_s = sum(stage.cpu_wall_s(cpus) or 0.0 for stage in planned)
        if wall_s:
            total += f", about {duration_text(wall_s)} here on {cpus} cores, one stage at a time"
        if unknown:
            total += f"; {unknown} without an earlier run (cost unknown)"
    else:
        total = "no stage has an earlier run to take its cost from"
    console.print(shown(total), highlight=False, soft_wrap=True)
    elsewhere = {last.measured_on for last in measured if last.measured_on} - {model}
    if elsewhere:
        console.print(
            shown(
                f"measured on other hardware than this CPU ({model}): {', '.join(sorted(elsewhere))}"
            ),
            highlight=False,
            soft_wrap=True,
        )
    _warn_uncommitted()
    console.print("next: rlpipe suite run", highlight=False, soft_wrap=True)
    if check:
        raise typer.Exit(1)


def _warn_uncommitted() -> None:
    """Say which inputs of the stages are not committed yet: `suite run --git-commit` refuses
    to start until they are. Says nothing outside a git repository."""
    from rlpipe.suite_run import uncommitted_sources
    from rlpipe.suite_sources import listed

    try:
        dirty = uncommitted_sources(Path.cwd())
    except RlpipeError:  # not a git repository, or no git: nothing to commit to
        return
    if dirty:
        console.print(
            shown(
                f"not committed yet: {listed(dirty)}; `rlpipe suite run --git-commit` starts "
                "once they are"
            ),
            highlight=False,
            soft_wrap=True,
        )


def _last_run_text(last: LastCost | None) -> str:
    """The plan's "Last run" cell: the compute, and whose pace it is when other seeds stand in."""
    from rlpipe.report.benchmarks import compute_text

    if last is None:
        return "no earlier run"
    spent = compute_text(last.cpu_core_s, last.gpu_s)
    if not last.from_seeds:
        return spent
    return f"none; at seeds {', '.join(map(str, last.from_seeds))}'s pace: {spent}"
