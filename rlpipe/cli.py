"""The rlpipe command line: parse arguments, call one library function, render with rich."""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rlpipe import __version__
from rlpipe.errors import RlpipeError
from rlpipe.spec import DEFAULT_SUITE, check_all, resolve_spec

app = typer.Typer(
    name="rlpipe",
    help="Train deep-RL agents from declarative specs and publish traceable benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
spec_app = typer.Typer(help="Show and check specs in pipelines/.", no_args_is_help=True)
app.add_typer(spec_app, name="spec")

# emoji=False: a ":name:" inside an echoed argument (--device cuda:abc) stays as typed.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

F = TypeVar("F", bound=Callable[..., Any])

PipelinesOpt = Annotated[
    Path,
    typer.Option(
        "--pipelines",
        envvar="RLPIPE_PIPELINES",
        help="Folder of pipeline files (<family>.yaml).",
        show_default=True,
    ),
]
OverridesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a declared var or a dotted field: -s max_frame=2e5 -s algorithm.lr=1e-3.",
    ),
]
FamilyArg = Annotated[str, typer.Argument(help="Pipeline family (file), e.g. crossq.")]
SpecArg = Annotated[str, typer.Argument(help="Spec name in the family, e.g. hopper.")]


def shown(text: object) -> str:
    """Text safe to print: rich markup escaped, control characters other than line breaks
    written as escapes (a value from a file or an argument never drives the terminal)."""
    visible = "".join(
        char if char == "\n" or unicodedata.category(char) != "Cc" else ascii(char)[1:-1]
        for char in str(text)
    )
    return escape(visible)


def user_errors(command: F) -> F:
    """Print an RlpipeError as one clean message and exit 2; let real bugs raise."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RlpipeError as exc:
            err_console.print(f"[bold red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


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


@app.command("ls")
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


def print_table(table: Table) -> None:
    """Print a table; when piped (no terminal), wide enough that cells are not cut."""
    Console(width=None if sys.stdout.isatty() else 160, emoji=False).print(table)


@spec_app.command("show")
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


@spec_app.command("check")
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


@app.command()
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
        str | None,
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
            "chain continues it with --resume-from (`stage_frames` in a suite).",
            min=1,
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
    wandb_project: Annotated[str, typer.Option(help="W&B project of --wandb.")] = "rlpipe",
    pipelines: PipelinesOpt = Path("pipelines"),
) -> None:
    """Train a spec: every seed, with progress, into a run folder with a summary."""
    from rlpipe.launch import TrainOptions, sigterm_as_interrupt, train_run
    from rlpipe.render import TrainingProgress, summary_table

    if resume and overwrite:
        raise RlpipeError("--resume and --overwrite exclude each other")
    from_file = _overrides_from_file(family, spec, overrides_file, pipelines)
    all_overrides = [*from_file, *(overrides or []), *([f"meta.seeds={seeds}"] if seeds else [])]
    resolved = resolve_spec(family, spec, all_overrides, pipelines)
    options = TrainOptions(device, out, artifacts, resume, overwrite, profile, workers, compile_,
                           tuple(restart_seed or ()), parse_seed_list(only_seeds), peer,
                           tuple(peer_version or ()), until_frame, resume_from, tensorboard,
                           wandb, wandb_project)  # fmt: skip
    twin = f" ({peer} twin)" if peer else ""
    console.print(
        f"[bold]{family}/{spec}[/]{twin} {shown(resolved.spec.env.id)}, spec hash "
        f"[cyan]{resolved.spec_hash[:12]}[/], seeds {resolved.spec.meta.seed_list}"
    )
    try:
        with sigterm_as_interrupt(), TrainingProgress(console, disable=quiet) as progress:
            run_dir, summary = train_run(resolved, options, progress.update)
    except KeyboardInterrupt:
        err_console.print("interrupted: checkpoints are kept; continue with --resume")
        raise typer.Exit(130) from None
    if summary is None:
        console.print(
            f"paused at frame {until_frame:,} with every seed checkpointed in {shown(run_dir)}; "
            f"continue with: rlpipe train {family} {spec} ... --resume-from {shown(run_dir)} "
            "--out DIR"
        )
        return
    print_table(summary_table(run_dir, summary))
    console.print(next_steps(run_dir, options.artifacts))


def next_steps(run_dir: Path, artifacts: Path | None) -> str:
    """Where a run went and the commands to try next, as rich text."""
    where = shown(run_dir)
    with_artifacts = f" --artifacts {shown(artifacts)}" if artifacts else ""
    return (
        f"run folder: [bold]{where}[/] (spec.json, summary.json, seed-K/metrics.csv, "
        "seed-K/model.pt)\n"
        "next:\n"
        f"  rlpipe enjoy {where}{with_artifacts} --episodes 3 --video {where}/replay.mp4"
        "   # watch the policy\n"
        f"  rlpipe eval {where}{with_artifacts}   # evaluate its final weights again\n"
        "  rlpipe report   # BENCHMARKS.md of the suite's runs in runs/ (params/suite.yaml)"
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


@app.command()
@user_errors
def summarize(
    run_dir: Annotated[Path, typer.Argument(help="Run folder whose seed groups have finished.")],
) -> None:
    """Combine a run's seed groups (rlpipe train --only-seeds) into its spec, provenance and
    summary."""
    from rlpipe.launch import summarize_groups
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


SuiteOpt = Annotated[Path, typer.Option("--suite", help="Suite file.")]
RayOpt = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="[ADDRESS]",
        help="Run on a Ray cluster: --ray ADDRESS (host:port, auto), or --ray alone for the "
        "cluster `ray start` made on this machine (else a new local one). Needs the ray extra.",
    ),
]
RAY_LOCAL = "local"
"""The value `--ray` gets when no address follows it (see _ray_without_address)."""


@app.command("eval")
@user_errors
def eval_run(
    run_dir: Annotated[Path, typer.Argument(help="Run folder, e.g. runs/crossq-hopper.")],
    artifacts: Annotated[
        Path | None, typer.Option(help="Folder holding seed-K/model.pt; default: the run folder.")
    ] = None,
    episodes: Annotated[
        int | None, typer.Option(help="Episodes per seed; default: the spec's.", min=1)
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to write eval.json; default: RUN_DIR/eval.json.")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
) -> None:
    """Evaluate a run's final weights with the deterministic policy; writes eval.json.

    A peer run (rlpipe train --peer) is evaluated through its library's twin, the same way."""
    from rlpipe.device import resolve_device
    from rlpipe.evaluation import evaluate_run
    from rlpipe.rundir import RunFolder

    result = evaluate_run(RunFolder(run_dir, artifacts), episodes, resolve_device(device), output)
    per_seed = ", ".join(f"seed {s['seed']}: {s['return_mean']:.1f}" for s in result["per_seed"])
    console.print(f"eval return {result['return_mean']:.1f} ({per_seed})")


class CompareMetric(str, Enum):
    """What `rlpipe compare` compares per seed."""

    score = "score"
    eval = "eval"


@app.command()
@user_errors
def compare(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Two or more run folders or suite keys (runs/KEY); each is compared with the "
            "first.",
            show_default=False,
        ),
    ],
    metric: Annotated[
        CompareMetric,
        typer.Option(
            help="score: each seed's final training-return moving average (the report's score); "
            "eval: each seed's final evaluation return."
        ),
    ] = CompareMetric.score,
    plot: Annotated[
        Path | None, typer.Option(help="Write an overlay of the runs' training curves (PNG).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Is a run better than another, or noise? Per-seed scores, the difference of means and of
    IQMs with 95% stratified-bootstrap CIs, and the probability of improvement P(X > Y)."""
    from rlpipe.comparison import compare as compare_runs
    from rlpipe.comparison import read_scores, resolve_run

    if len(runs) < 2:
        raise RlpipeError("rlpipe compare needs at least two runs")
    scores = [read_scores(resolve_run(run), metric.value, run) for run in runs]
    comparisons = [compare_runs(scores[0], other) for other in scores[1:]]
    if plot is not None:
        from rlpipe.report.plots import overlay_figure, save_png

        save_png(overlay_figure(" vs ".join(runs), {s.label: s.path for s in scores}), plot)
    if as_json:
        sys.stdout.write(json.dumps(comparison_document(scores, comparisons), indent=2) + "\n")
        return
    table = Table(title=f"per-seed {metric.value}", title_justify="left")
    for column in ("run", "seeds", "values", "mean", "IQM"):
        table.add_column(column)
    for run in scores:
        values = ", ".join(f"{v:.1f}" for v in run.values)
        table.add_row(run.label, str(len(run.values)), values, f"{run.mean:.1f}", f"{run.iqm:.1f}")
    print_table(table)
    for result in comparisons:
        mean, iqm, poi = (
            result.mean_difference,
            result.iqm_difference,
            result.improvement_probability,
        )
        console.print(
            f"[bold]{shown(result.other.label)}[/] vs {shown(result.baseline.label)}:\n"
            f"  difference of means {mean.value:+.1f} [{mean.low:+.1f}, {mean.high:+.1f}]\n"
            f"  difference of IQMs  {iqm.value:+.1f} [{iqm.low:+.1f}, {iqm.high:+.1f}]\n"
            f"  P({shown(result.other.label)} > {shown(result.baseline.label)}) "
            f"{poi.value:.2f} [{poi.low:.2f}, {poi.high:.2f}]\n"
            f"  {shown(result.verdict)}",
            highlight=False,
            soft_wrap=True,
        )
    if plot is not None:
        console.print(f"wrote {shown(plot)}")


def comparison_document(scores: list[Any], comparisons: list[Any]) -> dict[str, Any]:
    """`rlpipe compare --json`: the runs' per-seed values and each comparison's intervals."""

    def interval(value: Any) -> dict[str, float]:
        return {"value": value.value, "ci95": [value.low, value.high]}

    return {
        "runs": [
            {
                "run": s.label,
                "path": str(s.path),
                "seeds": list(s.seeds),
                "values": list(s.values),
                "mean": s.mean,
                "iqm": s.iqm,
            }
            for s in scores
        ],
        "comparisons": [
            {
                "baseline": c.baseline.label,
                "run": c.other.label,
                "mean_difference": interval(c.mean_difference),
                "iqm_difference": interval(c.iqm_difference),
                "probability_of_improvement": interval(c.improvement_probability),
                "verdict": c.verdict,
            }
            for c in comparisons
        ],
    }


@app.command()
@user_errors
def enjoy(
    run_dir: Annotated[Path, typer.Argument(help="Run folder, e.g. runs/crossq-hopper.")],
    seed: Annotated[
        int | None, typer.Option(help="Whose weights to play; default: the run's first seed.")
    ] = None,
    episodes: Annotated[int, typer.Option(help="Episodes to play.", min=1)] = 1,
    video: Annotated[
        Path | None,
        typer.Option(help="Record every episode into this .mp4 (or .gif, scaled down) file."),
    ] = None,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic/--stochastic",
            help="The evaluation policy (as rlpipe eval), or actions sampled as in training.",
        ),
    ] = True,
    max_steps: Annotated[
        int | None, typer.Option(help="Cut each episode after this many steps.", min=1)
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option(help="Folder holding seed-K/model.pt; default: the run folder.")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
) -> None:
    """Play a run's trained policy and print each episode's return; --video records it.

    Episode i starts where `rlpipe eval`'s episode i does; --video needs the video extra.

    Without a display MuJoCo renders through MUJOCO_GL=egl or osmesa (README: Watch and share)."""
    from rlpipe.device import resolve_device
    from rlpipe.rundir import RunFolder
    from rlpipe.watch.enjoy import play_run

    def show(episode: Any) -> None:
        cut = " (cut there by --max-steps)" if episode.cut else ""
        console.print(
            f"episode {episode.index + 1}: return {episode.episode_return:.1f}, "
            f"{episode.length:,} steps{cut}",
            highlight=False,
        )

    from rlpipe.launch import sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():
            replay = play_run(
                RunFolder(run_dir, artifacts), seed, episodes, deterministic, video, max_steps,
                resolve_device(device), show,
            )  # fmt: skip
    except KeyboardInterrupt:
        unwritten = f"; {shown(video)} was not written" if video is not None else ""
        err_console.print(f"interrupted{unwritten}")
        raise typer.Exit(130) from None
    returns = [episode.episode_return for episode in replay.episodes]
    policy = "deterministic" if replay.deterministic else "stochastic"
    console.print(
        f"seed {replay.seed}, {policy} policy: mean return {sum(returns) / len(returns):.1f} "
        f"over {len(returns)} episode{'s' if len(returns) != 1 else ''}",
        highlight=False,
    )
    if replay.video is not None:
        console.print(
            f"wrote {shown(replay.video)} ({replay.frames:,} frames at {replay.fps:g} fps)",
            highlight=False,
        )


@app.command()
@user_errors
def plot(
    suite: SuiteOpt = DEFAULT_SUITE,
    runs: Annotated[Path, typer.Option(help="Folder of run folders.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Folder for the PNGs.")] = Path("reports/plots"),
) -> None:
    """Plot return vs frames per env, frames/s vs time, and the performance profile."""
    from rlpipe.report.plots import plot_suite
    from rlpipe.spec import load_suite

    written = plot_suite(load_suite(suite), runs, out)
    console.print(f"wrote {len(written)} plots to {shown(out)}/")


@app.command()
@user_errors
def report(
    suite: SuiteOpt = DEFAULT_SUITE,
    runs: Annotated[Path, typer.Option(help="Folder of run folders.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Reports folder.")] = Path("reports"),
) -> None:
    """Write reports/BENCHMARKS.md and reports/benchmarks.json from the suite and its runs."""
    from rlpipe.report.benchmarks import write_report
    from rlpipe.rundir import RunFolder
    from rlpipe.spec import load_suite

    loaded = load_suite(suite)
    markdown, data = write_report(loaded, suite, out, runs)
    console.print(f"wrote {shown(markdown)} and {shown(data)}")
    unfinished = [key for key in loaded.runs if not RunFolder(runs / key).finished()]
    if unfinished:
        err_console.print(
            f"[yellow]warning:[/] {len(unfinished)} suite run(s) have no finished run folder "
            f"and show as missing runs: {shown(', '.join(unfinished))}; `rlpipe audit` fails "
            "until they finish (training, or dvc pull)",
            highlight=False,
            soft_wrap=True,
        )


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


@app.command()
@user_errors
def bench(
    family: FamilyArg,
    spec: SpecArg,
    overrides: OverridesOpt = None,
    frames: Annotated[
        int,
        typer.Option(
            help="Env frames timed, after learning starts and warm-up (on-policy: rounded up "
            "to whole rollouts).",
            min=1,
        ),
    ] = 1000,
    warmup: Annotated[
        int,
        typer.Option(
            help="Frames with updates before timing, for compilation (on-policy: rounded up "
            "to whole rollouts).",
            min=1,
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
        str | None, typer.Option("--vs", help="Also run this library on the same config: sb3.")
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
        typer.Option(help="Runs per side, alternating; default 2 with --vs or --bf16, else 1."),
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
    from rlpipe.bench.speed_report import add_record
    from rlpipe.bench.timing import BF16_SIDE, Window, timed_spec
    from rlpipe.device import resolve_device
    from rlpipe.fast import compile_by_default
    from rlpipe.render import bench_table

    if vs not in (None, "sb3"):
        raise RlpipeError(f"--vs {vs}: the only library to compare with is sb3")
    resolved = resolve_spec(family, spec, overrides or [], pipelines)
    torch_device = resolve_device(device)
    use_compile = compile_by_default(resolved.spec, torch_device) if compile_ is None else compile_
    window = Window(frames, warmup, str(torch_device), use_compile, threads or os.cpu_count() or 1)
    if vs == "sb3" and (why := sb3_unsupported(timed_spec(resolved.spec, window))) is not None:
        raise RlpipeError(f"--vs sb3: {why}")
    if bf16 and resolved.spec.algorithm.precision == "bf16":
        raise RlpipeError(
            "--bf16 times the spec in fp32 and in bf16, but the spec already sets "
            "algorithm.precision bf16; drop one of them"
        )
    sides = ("rlpipe", *((BF16_SIDE,) if bf16 else ()), *(("sb3",) if vs else ()))
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


suite_app = typer.Typer(
    help="The benchmark suite as DVC stages: write them, run them here or on Ray.",
    no_args_is_help=True,
)
app.add_typer(suite_app, name="suite")


@suite_app.command("stages")
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


@suite_app.command("fingerprint")
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


@app.command()
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
        str,
        typer.Option(
            help="score: the run's score (final training-return moving average); eval: its "
            "final deterministic eval return."
        ),
    ] = "score",
    pruner: Annotated[str, typer.Option(help="median, hyperband or none.")] = "median",
    startup_trials: Annotated[
        int, typer.Option(help="Trials sampled at random and never pruned.", min=0)
    ] = 5,
    warmup_frames: Annotated[
        int, typer.Option(help="Frames before a trial may be pruned.", min=0)
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
    from rlpipe.search.driver import SearchRequest, run_search
    from rlpipe.search.render import SearchProgress, trials_table
    from rlpipe.search.study import SearchOptions

    if objective not in ("score", "eval"):
        raise RlpipeError(f"--objective {objective}: expected score or eval")
    if pruner not in ("median", "hyperband", "none"):
        raise RlpipeError(f"--pruner {pruner}: expected median, hyperband or none")
    request = SearchRequest(
        family, spec, space, tuple(overrides or []), seeds, objective, pruner,  # type: ignore[arg-type]
        startup_trials, warmup_frames, seed,
    )  # fmt: skip
    options = SearchOptions(
        name or f"{family}-{spec}", trials, out, storage, resume, parallel, workers, device,
        pipelines,
    )  # fmt: skip
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
    print_table(trials_table(outcome.report, objective))
    best = outcome.report.best
    if best is not None:
        console.print(f"best: trial {best.number}, {objective} {best.value:.1f}")
    console.print(f"wrote {options.folder}/SEARCH.md")


@suite_app.command("run")
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


def _ray_without_address(argv: list[str]) -> list[str]:
    """`--ray` takes an optional value: the next word is its address only if it looks like
    one (host:port, ray://..., auto); else `--ray` means a local cluster."""
    fixed = []
    for index, word in enumerate(argv):
        fixed.append(word)
        if word == "--ray":
            following = argv[index + 1] if index + 1 < len(argv) else ""
            if not (":" in following or following == "auto"):
                fixed.append(RAY_LOCAL)
    return fixed


COMPUTE_COMMANDS = frozenset({"train", "bench", "search", "suite", "eval", "enjoy", "summarize"})
"""Commands that run torch's threads, for which the OpenMP wait policy is chosen at start."""


def run() -> None:
    """Console-script entry point."""
    if COMPUTE_COMMANDS.intersection(sys.argv[1:2]):
        choose_omp_wait_policy()
    app(args=_ray_without_address(sys.argv[1:]))


BUSY_PER_CORE = 0.5
"""Other runnable processes per core from which a run's OpenMP threads wait passively."""


def runnable_others(samples: int = 5) -> float | None:
    """Processes other than this one that are running or ready to run now (the median of a few
    readings of /proc/loadavg 10 ms apart; the load averages lag by minutes); None off Linux."""
    counts = []
    for _ in range(samples):
        try:
            running = Path("/proc/loadavg").read_text().split()[3]
        except (OSError, IndexError):
            return None
        counts.append(int(running.split("/")[0]) - 1)
        time.sleep(0.01)
    return float(statistics.median(counts))


def choose_omp_wait_policy(others: Callable[[], float | None] = runnable_others) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE when other processes keep the cores busy, before torch loads.

    OpenMP threads spin while they wait for each other; beside other busy processes, the spinning
    steals the time the threads wait for. Measured with `rlpipe bench crossq pendulum-quick
    --no-compile --threads 2` on 2 cores: idle, 55.6 env frames/s spinning, 28.1 passive; beside
    two busy training processes, 14.3 spinning, 33.9 passive. So the policy follows the load at
    start. It changes only waiting, never numbers; a policy the user set is kept.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return os.environ["OMP_WAIT_POLICY"]
    busy = others()
    if busy is not None and busy >= BUSY_PER_CORE * (os.cpu_count() or 1):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return "PASSIVE"
    return None
