"""`rlpipe suite stages|fingerprint|run`: the benchmark suite as DVC stages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from rlpipe.commands.common import (
    RAY_LOCAL,
    PipelinesOpt,
    RayOpt,
    SuiteOpt,
    console,
    err_console,
    shown,
    user_errors,
)
from rlpipe.errors import RlpipeError
from rlpipe.spec import DEFAULT_SUITE


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

    text = render_dvc_yaml(load_suite(suite), suite, pipelines)
    current = Path(DVC_FILE).read_text(encoding="utf-8") if Path(DVC_FILE).exists() else None
    if check:
        if current != text:
            err_console.print(f"{DVC_FILE} is out of date: run rlpipe suite stages")
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
    """Write the code fingerprint of source files: what they do, blind to docstrings, comments and
    type annotations (rlpipe/fingerprint.py). Train and eval stages depend on it."""
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
        typer.Option("--repro/--no-repro", help="Run `dvc repro` (eval, plot, report) after."),
    ] = True,
) -> None:
    """Train the stale DVC train stages (here or on Ray), commit them, then `dvc repro`."""
    from rlpipe.launch import sigterm_as_interrupt
    from rlpipe.suite_run import run_suite

    address = None if ray in (None, RAY_LOCAL) else ray

    def show(message: str) -> None:
        console.print(escape(message), highlight=False)

    try:
        with sigterm_as_interrupt():
            result = run_suite(Path.cwd(), ray is not None, address, repro, show)
    except KeyboardInterrupt:
        err_console.print("interrupted: stages that finished are committed")
        raise typer.Exit(130) from None
    console.print(
        f"trained {len(result.trained)} stale train stages"
        + (", dvc repro done" if result.reproduced else "")
    )
