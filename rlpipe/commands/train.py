"""`rlpipe train` and `rlpipe summarize`: train a spec into a run folder."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rlpipe.commands.common import (
    FamilyArg,
    OverridesOpt,
    PipelinesOpt,
    SpecArg,
    console,
    err_console,
    home_expanded,
    positive_frames,
    print_table,
    shell_word,
    shown,
    user_errors,
)
from rlpipe.errors import RlpipeError
from rlpipe.spec import resolve_spec

if TYPE_CHECKING:
    from rlpipe.launch import TrainOptions
    from rlpipe.spec import Spec


class Peer(str, Enum):
    """A peer library whose twin of a spec `rlpipe train --peer` trains (rlpipe.peers.PEERS)."""

    sb3 = "sb3"


@user_errors
def train(
    family: FamilyArg,
    spec: SpecArg,
    overrides: OverridesOpt = None,
    seeds: Annotated[
        int | None, typer.Option(help="Number of seeds (sets meta.seeds).", min=1)
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    out: Annotated[
        Path | None, typer.Option(help="Run folder; default runs/<family>-<spec>.")
    ] = None,
    artifacts: Annotated[
        Path | None,
        typer.Option(help="Folder for model.pt and checkpoints; default: the run folder."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoints.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Delete an existing run folder and start over.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Seeds trained in parallel processes; default: one per core (CPU).", min=1
        ),
    ] = None,
    profile: Annotated[
        bool,
        typer.Option("--profile", help="Write a torch.profiler trace of 200 frames of updates."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    compile_: Annotated[
        bool | None,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the update; default: where measured faster and the run is long "
            "enough to repay compiling (see rlpipe/fast.py).",
        ),
    ] = None,
    overrides_file: Annotated[
        Path | None,
        typer.Option(
            "--overrides",
            help="YAML file of name: value settings (e.g. a search's best.yaml), applied "
            "before -s.",
        ),
    ] = None,
    only_seeds: Annotated[
        str | None,
        typer.Option(
            "--only-seeds",
            help="Train just these seeds of the run (comma-separated, e.g. 2,3) as one seed group "
            "(groups/seeds-2-3.json); `rlpipe summarize` combines the groups when all are done.",
        ),
    ] = None,
    restart_seed: Annotated[
        list[int] | None,
        typer.Option(
            "--restart-seed",
            help="With --resume: train this seed again from scratch (e.g. its checkpoint is "
            "damaged), keeping the other seeds. Repeatable.",
            min=0,
        ),
    ] = None,
    peer: Annotated[
        Peer | None,
        typer.Option(
            "--peer",
            help="Train the peer library's own implementation of the spec instead (sb3: "
            "Stable-Baselines3 / sb3-contrib), set up the same way, for a parity row.",
        ),
    ] = None,
    peer_version: Annotated[
        list[str] | None,
        typer.Option(
            "--peer-version",
            help="With --peer: a library version the run must train with (e.g. "
            "sb3-contrib==2.9.2); repeatable. `rlpipe suite stages` writes them.",
        ),
    ] = None,
    until_frame: Annotated[
        int | None,
        typer.Option(
            "--until-frame",
            help="Checkpoint every seed at this frame and stop, so that the next stage of a "
            "chain continues it with --resume-from (`stage_frames` in a suite). A whole "
            "number, as in specs: 3e5.",
            parser=positive_frames,
            metavar="FRAMES",
        ),
    ] = None,
    resume_from: Annotated[
        Path | None,
        typer.Option(
            "--resume-from",
            help="Continue the run that an earlier stage paused in this folder (--until-frame): "
            "its files are copied into --out and training resumes there.",
        ),
    ] = None,
    tensorboard: Annotated[
        Path | None,
        typer.Option(
            help="Also write each seed's metrics rows as TensorBoard scalars under DIR/<run>/"
            "seed-K (CleanRL's tag names: charts/episodic_return, charts/SPS, losses/...). "
            "Needs the views extra.",
            metavar="DIR",
        ),
    ] = None,
    wandb: Annotated[
        Path | None,
        typer.Option(
            help="Also log each seed's rows to Weights & Biases, offline (files under DIR/wandb; "
            "`wandb sync` uploads them; WANDB_MODE=online logs live), with the resolved spec "
            "as config and the spec hash and git commit as tags. Needs the views extra.",
            metavar="DIR",
        ),
    ] = None,
    wandb_project: Annotated[
        str | None, typer.Option(help="W&B project of --wandb; default rlpipe.")
    ] = None,
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Train a spec: every seed, with progress, into a run folder with a summary."""
    from rlpipe.launch import TrainOptions, sigterm_as_interrupt, train_run
    from rlpipe.render import TrainingProgress, summary_table

    peer_name = peer.value if peer is not None else None
    if wandb_project is not None and wandb is None:
        raise RlpipeError("--wandb-project names the W&B project of --wandb: give --wandb DIR too")
    # a `~` the shell left alone (quoted, or from a script) is the home folder, as for pull
    out = home_expanded(out, "--out") if out else None
    artifacts = home_expanded(artifacts, "--artifacts") if artifacts else None
    from_file = _overrides_from_file(family, spec, overrides_file, pipelines)
    all_overrides = [*from_file, *(overrides or []), *([f"meta.seeds={seeds}"] if seeds else [])]
    resolved = resolve_spec(family, spec, all_overrides, pipelines)
    options = TrainOptions(device, out, artifacts, resume, overwrite, profile, workers, compile_,
                           tuple(restart_seed or ()), parse_seed_list(only_seeds), peer_name,
                           tuple(peer_version or ()), until_frame, resume_from, tensorboard,
                           wandb, wandb_project or "rlpipe")  # fmt: skip
    twin = f" ({peer_name} twin)" if peer_name else ""
    for warning in [
        *settings_given_twice(overrides or [], seeds, from_file),
        no_updates_warning(resolved.spec),
    ]:
        if warning is not None:
            err_console.print(f"[yellow]warning:[/] {shown(warning)}", soft_wrap=True)
    console.print(
        f"[bold]{family}/{spec}[/]{twin} {shown(resolved.spec.env.id)}, spec hash "
        f"[cyan]{resolved.spec_hash[:12]}[/], seeds "
        + (f"{list(options.only_seeds)} of " if options.only_seeds else "")
        + f"{resolved.spec.meta.seed_list}"
    )
    try:
        with sigterm_as_interrupt(), TrainingProgress(console, disable=quiet) as progress:
            run_dir, summary = train_run(resolved, options, progress.update)
    except KeyboardInterrupt:
        if peer_name is not None:
            err_console.print("interrupted: a peer run keeps no checkpoints; train it again")
            raise typer.Exit(130) from None
        err_console.print(
            interrupted_message(family, spec, all_overrides, options, pipelines), soft_wrap=True
        )
        raise typer.Exit(130) from None
    if summary is None:
        console.print(paused_steps(family, spec, run_dir, until_frame or 0), soft_wrap=True)
        return
    print_table(summary_table(run_dir, summary))
    # soft_wrap: a command line or path is never broken by an inserted newline (copy, grep, logs).
    seeds = parse_seed_list(only_seeds)
    steps = group_next_steps(run_dir, seeds) if seeds else next_steps(run_dir, options.artifacts)
    console.print(steps, soft_wrap=True)


def interrupted_message(
    family: str, spec: str, overrides: list[str], options: TrainOptions, pipelines: Path
) -> str:
    """After Ctrl-C (or SIGTERM): the exact command that resumes the run, every option that
    shapes it included, as rich text; or that there is nothing to resume yet."""
    from rlpipe.rundir import RunFolder
    from rlpipe.train_command import train_argv

    out = options.out or RunFolder.for_spec(family, spec).path
    run = RunFolder(out)
    started = run.group_file(options.only_seeds).exists() if options.only_seeds else run.holds_run()
    if not started:
        return f"interrupted before the run started in {shown(out)}: nothing to resume"
    again = train_argv(
        family, spec, overrides, workers=options.workers,
        device=None if options.device == "auto" else options.device, out=out,
        artifacts=options.artifacts, pipelines=None if pipelines == Path("pipelines") else pipelines,
        until_frame=options.until_frame, only_seeds=options.only_seeds or None,
    )  # fmt: skip
    if options.compile is not None:
        again.append("--compile" if options.compile else "--no-compile")
    for flag, value in (("--tensorboard", options.tensorboard), ("--wandb", options.wandb)):
        again += [flag, str(value)] if value is not None else []
    if options.wandb is not None and options.wandb_project != "rlpipe":
        again += ["--wandb-project", options.wandb_project]
    return "interrupted: checkpoints are kept; continue with: " + shown(
        shlex.join([*again, "--resume"])
    )


def settings_given_twice(
    overrides: list[str], seeds: int | None, from_file: Sequence[str] = ()
) -> list[str]:
    """Warnings for settings the command line gives twice, where the last silently wins: one
    name in two -s, or --seeds beside seeds / meta.seeds of -s or the --overrides file."""
    values: dict[str, list[str]] = {}
    for override in overrides:
        name, _, value = override.partition("=")
        values.setdefault(name.strip(), []).append(value.strip())
    warnings = [
        f"-s {name} is given {len(given)} times ({', '.join(given)}): the last, {given[-1]}, is used"
        for name, given in values.items()
        if len(given) > 1
    ]
    in_file = {name: value for name, _, value in (line.partition("=") for line in from_file)}
    for name in ("seeds", "meta.seeds"):
        if seeds is not None and name in values:
            warnings.append(f"--seeds {seeds} and -s {name}={values[name][-1]}: --seeds is used")
        elif seeds is not None and name in in_file:
            warnings.append(
                f"--seeds {seeds} and the --overrides file's {name}: {in_file[name]}: --seeds "
                "is used"
            )
    return warnings


def no_updates_warning(spec: Spec) -> str | None:
    """Why an off-policy run would make no gradient update (learning_starts not below
    max_frame: a smoke test, or a typo), or None."""
    from rlpipe.algos.registry import algorithm
    from rlpipe.fast import planned_updates

    if algorithm(spec.algorithm.name).on_policy or planned_updates(spec) > 0:
        return None
    starts = getattr(spec.algorithm, "learning_starts", None)
    return (
        f"learning_starts ({starts:,}) is not below max_frame ({spec.env.max_frame:,}): this run "
        "makes no gradient update, and its score is that of its random actions"
    )


def paused_steps(family: str, spec: str, run_dir: Path, frame: int) -> str:
    """After --until-frame: where the paused run is and how a later stage continues it (the
    path shell-quoted), as rich text."""
    return (
        f"paused at frame {frame:,} with every seed checkpointed in {shown(run_dir)}; "
        f"continue with: rlpipe train {shell_word(family)} {shell_word(spec)} ... --resume-from "
        f"{shell_word(run_dir)} --out DIR"
    )


def next_steps(run_dir: Path, artifacts: Path | None) -> str:
    """Where a run went and the commands to try next (paths shell-quoted), as rich text."""
    where = shell_word(run_dir)
    with_artifacts = f" --artifacts {shell_word(artifacts)}" if artifacts else ""
    return (
        f"run folder: [bold]{shown(run_dir)}[/] (spec.json, summary.json, seed-K/metrics.csv, "
        "seed-K/model.pt)\n"
        "next:\n"
        f"  rlpipe enjoy {where}{with_artifacts} --episodes 3 --video "
        f"{shell_word(f'{run_dir.name}.mp4')}   # watch the policy\n"
        f"  rlpipe eval {where}{with_artifacts}   # evaluate its final weights again\n"
        "  rlpipe report   # BENCHMARKS.md of the suite's runs in runs/ (params/suite.yaml)"
    )


def group_next_steps(run_dir: Path, seeds: tuple[int, ...]) -> str:
    """After one seed group (--only-seeds): the run is not whole until every group has trained
    and `rlpipe summarize` has written its spec.json and summary.json."""
    from rlpipe.rundir.folder import GROUPS_DIR, group_name

    where, group = shell_word(run_dir), group_name(seeds)
    output = shell_word(f"evals/{run_dir.name}/{group}.json")
    return (
        f"seed group {group} of [bold]{shown(run_dir)}[/] trained ({GROUPS_DIR}/{group}.json, "
        "seed-K/)\n"
        "next:\n"
        f"  rlpipe eval {where} --only-seeds {','.join(map(str, seeds))} --output {output}"
        "   # this group's eval, before the others exist\n"
        f"  rlpipe summarize {where}   # once every group has trained: the run's summary"
    )


def parse_seed_list(text: str | None) -> tuple[int, ...]:
    """Seeds from a comma-separated list ("2,3"); () for None."""
    if text is None:
        return ()
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise RlpipeError(f"--only-seeds {text!r}: expected seeds like 2,3") from None
    if any(seed < 0 for seed in seeds):
        raise RlpipeError(f"--only-seeds {text!r}: seeds are not negative")
    return seeds


@user_errors
def summarize(
    run_dir: Annotated[Path, typer.Argument(help="Run folder whose seed groups have finished.")],
) -> None:
    """Combine a run's seed groups into its spec, provenance and summary.

    The groups are those trained by `rlpipe train --only-seeds` into the same run folder."""
    from rlpipe.group_summary import summarize_groups
    from rlpipe.render import summary_table
    from rlpipe.rundir import RunFolder

    print_table(summary_table(run_dir, summarize_groups(RunFolder(run_dir))))


def _overrides_from_file(family: str, spec: str, path: Path | None, pipelines: Path) -> list[str]:
    """An override file's settings as -s strings; an error in them names the file."""
    if path is None:
        return []
    from rlpipe.search.overrides import read_overrides_file

    from_file = read_overrides_file(path)
    try:
        resolve_spec(family, spec, from_file, pipelines)
    except RlpipeError as exc:
        raise RlpipeError(f"--overrides {path}: {exc}") from None
    return from_file
