"""`rlpipe eval` and `rlpipe compare`: a run's final weights, and runs against each other."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rlpipe.commands.common import (
    console,
    print_table,
    shown,
    user_errors,
)
from rlpipe.errors import RlpipeError


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
        Path | None,
        typer.Option(
            help="Where to write eval.json; default: RUN_DIR/eval.json. An existing file is "
            "overwritten only if it is an earlier evaluation; a run's own files never are."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    only_seeds: Annotated[
        str | None,
        typer.Option(
            "--only-seeds",
            help="Evaluate just this seed group (e.g. 2,3: groups/seeds-2-3.json), before the "
            "run's other groups exist; needs --output.",
        ),
    ] = None,
    merge: Annotated[
        list[Path] | None,
        typer.Option(
            help="Instead of evaluating, merge these group evaluations (--only-seeds outputs) "
            "into the run's, once it is summarised; needs --output. Repeatable.",
        ),
    ] = None,
) -> None:
    """Evaluate a run's final weights with the deterministic policy; writes eval.json.

    A peer run (rlpipe train --peer) is evaluated through its library's twin, the same way.
    A run trained as seed groups can be evaluated group by group (--only-seeds) and the
    groups' files merged (--merge), so that no machine needs every group's weights."""
    from rlpipe.commands.train import parse_seed_list
    from rlpipe.device import resolve_device
    from rlpipe.eval_output import check_eval_output
    from rlpipe.evaluation import evaluate_run
    from rlpipe.group_eval import evaluate_group, merge_group_evals
    from rlpipe.rundir import RunFolder

    run = RunFolder(run_dir, artifacts)
    if (only_seeds is not None or merge) and output is None:
        raise RlpipeError("--only-seeds and --merge write a file of their own: give --output")
    if merge and (only_seeds is not None or episodes is not None):
        raise RlpipeError(
            "--merge combines finished group evaluations: drop --only-seeds and --episodes"
        )
    target = output or run.eval_file
    check_eval_output(run, target)  # before evaluating: a refused --output costs nothing
    if merge:
        result = merge_group_evals(run, merge, target)
    elif only_seeds is not None:
        seeds = parse_seed_list(only_seeds)
        result = evaluate_group(run, seeds, target, episodes, resolve_device(device))
    else:
        result = evaluate_run(run, episodes, resolve_device(device), target)
    per_seed = ", ".join(f"seed {s['seed']}: {s['return_mean']:.1f}" for s in result["per_seed"])
    console.print(f"eval return {result['return_mean']:.1f} ({per_seed})")


class CompareMetric(str, Enum):
    """What `rlpipe compare` compares per seed."""

    score = "score"
    eval = "eval"


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
        Path | None,
        typer.Option(
            help="Write an overlay of the runs' training curves; .png, .svg or .pdf, as the "
            "extension says. Every run needs its seeds' metrics.csv."
        ),
    ] = None,
    any_env: Annotated[
        bool,
        typer.Option(
            "--any-env",
            help="Compare runs trained on different envs too (refused by default: their returns "
            "are on different scales).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Is a run better than another, or noise? Scores, differences and P(X > Y), with CIs.

    Per-seed scores, the difference of means and of IQMs with 95% stratified-bootstrap CIs,
    and the probability of improvement P(X > Y). The runs must share an env (--any-env to
    compare across envs); with fewer than 2 seeds on a side there is no CI and no verdict."""
    from rlpipe.comparison import compare as compare_runs
    from rlpipe.comparison import read_scores, require_one_env, resolve_run
    from rlpipe.report.plots import figure_format, overlay_figure, save_figure

    if len(runs) < 2:
        raise RlpipeError("rlpipe compare needs at least two runs")
    if plot is not None:
        figure_format(plot)  # a wrong extension is refused before anything is read
    scores = [read_scores(resolve_run(run), metric.value, run) for run in runs]
    if not any_env:
        require_one_env(scores)
    comparisons = [compare_runs(scores[0], other) for other in scores[1:]]
    if plot is not None:
        save_figure(overlay_figure(" vs ".join(runs), {s.label: s.path for s in scores}), plot)
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
        console.print(comparison_text(result), highlight=False, soft_wrap=True)
    if plot is not None:
        console.print(f"wrote {shown(plot)}")


def comparison_text(result: Any) -> str:
    """One comparison for the terminal (rich markup, labels escaped): the differences with
    their CIs, or without when a run has too few seeds for one, and the verdict."""

    def interval(value: Any, form: str) -> str:
        if not result.has_intervals:
            return f"{value.value:{form}} (no CI)"
        return f"{value.value:{form}} [{value.low:{form}}, {value.high:{form}}]"

    other, baseline = shown(result.other.label), shown(result.baseline.label)
    return (
        f"[bold]{other}[/] vs {baseline}:\n"
        f"  difference of means {interval(result.mean_difference, '+.1f')}\n"
        f"  difference of IQMs  {interval(result.iqm_difference, '+.1f')}\n"
        f"  P({other} > {baseline}) {interval(result.improvement_probability, '.2f')}\n"
        f"  {shown(result.verdict)}"
    )


def comparison_document(scores: list[Any], comparisons: list[Any]) -> dict[str, Any]:
    """`rlpipe compare --json`: the runs' per-seed values and each comparison's intervals; with
    too few seeds on a side (`too_few_seeds`), each ci95 and the verdict are null."""

    def interval(value: Any, comparison: Any) -> dict[str, Any]:
        ci95 = [value.low, value.high] if comparison.has_intervals else None
        return {"value": value.value, "ci95": ci95}

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
                "mean_difference": interval(c.mean_difference, c),
                "iqm_difference": interval(c.iqm_difference, c),
                "probability_of_improvement": interval(c.improvement_probability, c),
                "too_few_seeds": not c.has_intervals,
                "verdict": c.verdict if c.has_intervals else None,
            }
            for c in comparisons
        ],
    }
