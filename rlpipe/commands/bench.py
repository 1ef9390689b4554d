"""`rlpipe bench`: training speed of a spec, optionally against SB3 or in bf16."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rlpipe.commands.common import (
    FamilyArg,
    OverridesOpt,
    PipelinesOpt,
    SpecArg,
    console,
    err_console,
    positive_frames,
    print_table,
    shown,
    user_errors,
)
from rlpipe.errors import RlpipeError
from rlpipe.spec import resolve_spec


class Library(str, Enum):
    """A library `rlpipe bench --vs` times on the same config."""

    sb3 = "sb3"


@user_errors
def bench(
    family: FamilyArg,
    spec: SpecArg,
    overrides: OverridesOpt = None,
    frames: Annotated[
        int,
        typer.Option(
            help="Env frames timed, after learning starts and warm-up (on-policy: rounded up "
            "to whole rollouts); 2000 or 2e3.",
            parser=positive_frames,
            metavar="FRAMES",
        ),
    ] = 1000,
    warmup: Annotated[
        int,
        typer.Option(
            help="Frames with updates before timing, for compilation (on-policy: rounded up "
            "to whole rollouts).",
            parser=positive_frames,
            metavar="FRAMES",
        ),
    ] = 100,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    compile_: Annotated[
        bool | None,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the update; default: where measured faster (see rlpipe/fast.py).",
        ),
    ] = None,
    vs: Annotated[
        Library | None, typer.Option("--vs", help="Also run this library on the same config: sb3.")
    ] = None,
    bf16: Annotated[
        bool,
        typer.Option(
            "--bf16",
            help="Also time the spec with bf16 matmuls (algorithm.precision=bf16), alternating "
            "with fp32, and print the ratio.",
        ),
    ] = False,
    rounds: Annotated[
        int | None,
        typer.Option(
            help="Runs per side, alternating; default 2 with --vs or --bf16, else 1.", min=1
        ),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="torch threads per side; default: every core.", min=1)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    report: Annotated[
        bool, typer.Option("--report", help="Add the result to speed.json and SPEED.md.")
    ] = False,
    reports_dir: Annotated[Path, typer.Option(help="Where --report writes.")] = Path("reports"),
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Measure training speed (env frames/s, updates/s) of a spec, optionally against SB3."""

    from rlpipe.bench.compare import compare
    from rlpipe.bench.sb3 import sb3_unsupported
    from rlpipe.bench.speed_report import add_record, check_writable
    from rlpipe.bench.timing import BF16_SIDE, Window, timed_spec
    from rlpipe.device import resolve_device
    from rlpipe.fast import compile_by_default
    from rlpipe.render import bench_table

    resolved = resolve_spec(family, spec, overrides or [], pipelines)
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        err_console.print(
            f"[yellow]warning:[/] --threads {threads} is more than this machine's {cores} cores: "
            "the threads share them, and the timing measures the contention"
        )
    if report:
        check_writable(reports_dir)  # not after minutes of benchmarking
    torch_device = resolve_device(device)
    use_compile = compile_by_default(resolved.spec, torch_device) if compile_ is None else compile_
    window = Window(frames, warmup, str(torch_device), use_compile, threads or cores)
    if (
        vs is Library.sb3
        and (why := sb3_unsupported(timed_spec(resolved.spec, window))) is not None
    ):
        raise RlpipeError(f"--vs sb3: {why}")
    if bf16 and resolved.spec.algorithm.precision == "bf16":
        raise RlpipeError(
            "--bf16 times the spec in fp32 and in bf16, but the spec already sets "
            "algorithm.precision bf16; drop one of them"
        )
    sides = ("rlpipe", *((BF16_SIDE,) if bf16 else ()), *((vs.value,) if vs else ()))
    default_rounds = 2 if len(sides) > 1 else 1
    with console.status("benchmarking", spinner="dots") as status:
        result = compare(resolved, window, sides, rounds or default_rounds, status.update)
    record = result.record()
    if as_json:
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
    else:
        print_table(bench_table(record))
    if report:
        path = add_record(reports_dir, record)
        err_console.print(f"recorded in {shown(path)}")
