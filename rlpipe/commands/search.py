"""`rlpipe search`: hyperparameter search with Optuna."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rlpipe.commands.common import (
    RAY_LOCAL,
    FamilyArg,
    OverridesOpt,
    PipelinesOpt,
    RayOpt,
    SpecArg,
    console,
    err_console,
    frame_count,
    print_table,
    user_errors,
)
from rlpipe.spec import resolve_spec


class Objective(str, Enum):
    """What a search maximizes (rlpipe.search.trial.Objective)."""

    score = "score"
    eval = "eval"


class Pruner(str, Enum):
    """The Optuna pruner of a search (rlpipe.search.study.PrunerName)."""

    median = "median"
    hyperband = "hyperband"
    none = "none"


@user_errors
def search(
    family: FamilyArg,
    spec: SpecArg,
    space: Annotated[
        Path, typer.Option(help="Search space YAML: dotted spec keys with distributions.")
    ],
    trials: Annotated[int, typer.Option(help="Trials in the search (finished ones count).", min=1)],
    overrides: OverridesOpt = None,
    name: Annotated[
        str | None, typer.Option(help="Search name and folder; default <family>-<spec>.")
    ] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per trial.", min=1)] = 1,
    objective: Annotated[
        Objective,
        typer.Option(
            help="score: the run's score (final training-return moving average); eval: its "
            "final deterministic eval return."
        ),
    ] = Objective.score,
    pruner: Annotated[Pruner, typer.Option(help="median, hyperband or none.")] = Pruner.median,
    startup_trials: Annotated[
        int,
        typer.Option(
            help="Trials sampled at random before TPE takes over; the median pruner never "
            "prunes them (hyperband has no such start).",
            min=0,
        ),
    ] = 5,
    warmup_frames: Annotated[
        int,
        typer.Option(
            help="Frames before a trial may be pruned (2e4 or 20000).",
            parser=frame_count,
            metavar="FRAMES",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Sampler seed.")] = 0,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage: an RDB URL (postgresql://...) or a journal file path; "
            "default sqlite:///searches/<name>/study.db."
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the search; finished trials are kept.")
    ] = False,
    ray: RayOpt = None,
    parallel: Annotated[
        int | None,
        typer.Option(help="Trials at once; default 1, or as many as the Ray cluster fits.", min=1),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Seed processes per trial (CPUs each trial takes).", min=1)
    ] = 1,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N for each trial.")] = "auto",
    out: Annotated[Path, typer.Option(help="Folder of searches.")] = Path("searches"),
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Search hyperparameters with Optuna; each trial is an `rlpipe train` run folder."""
    from rlpipe.launch import sigterm_as_interrupt
    from rlpipe.search.driver import SearchRequest, check_search_name, run_search
    from rlpipe.search.render import SearchProgress, trials_table
    from rlpipe.search.study import SearchOptions

    request = SearchRequest(
        family, spec, space, tuple(overrides or []), seeds, objective.value, pruner.value,
        startup_trials, warmup_frames, seed,
    )  # fmt: skip
    options = SearchOptions(
        name or f"{family}-{spec}", trials, out, storage, resume, parallel, workers, device,
        pipelines,
    )  # fmt: skip
    check_search_name(options.name)  # before it is printed
    address = None if ray in (None, RAY_LOCAL) else ray
    max_frame = resolve_spec(family, spec, overrides or [], pipelines).spec.env.max_frame
    console.print(f"[bold]search {options.name}[/]: {family}/{spec}, {trials} trials")
    try:
        with sigterm_as_interrupt(), SearchProgress(console, trials, max_frame) as progress:
            outcome = run_search(request, options, ray is not None, address, progress.update)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished trials are kept; continue with --resume")
        raise typer.Exit(130) from None
    if outcome.requeued:
        console.print(f"re-queued trials cut off by the last stop: {outcome.requeued}")
    print_table(trials_table(outcome.report, objective.value))
    best = outcome.report.best
    if best is not None:
        console.print(f"best: trial {best.number}, {objective.value} {best.value:.1f}")
    console.print(f"wrote {options.folder}/SEARCH.md")
