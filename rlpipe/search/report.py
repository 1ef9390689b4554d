"""A search's outputs: SEARCH.md with the trial table, Optuna's plots as PNG, the trials as
JSON, and the best values as an override file for `rlpipe train --overrides`."""

from __future__ import annotations

import io
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlpipe.rundir import atomic_write_bytes, atomic_write_json, atomic_write_text
from rlpipe.search.overrides import write_overrides_file
from rlpipe.search.space import SearchSpace, decode_params, format_value
from rlpipe.search.study import SearchSettings

SEARCH_FILE = "SEARCH.md"
BEST_FILE = "best.yaml"
TRIALS_FILE = "trials.json"
HISTORY_PLOT = "plots/history.png"
IMPORTANCE_PLOT = "plots/importance.png"
PLOT_MISSING = "not drawn yet: it needs finished trials (two for parameter importance)"
OBJECTIVE_TEXT = {
    "score": "the run's score: final training-return moving average, mean over seeds",
    "eval": "the run's final deterministic eval return, mean over seeds",
}


@dataclass(frozen=True)
class TrialRow:
    """One trial as the report lists it."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    frames: int | None
    wall_s: float | None
    run_dir: str | None
    note: str


@dataclass(frozen=True)
class SearchReport:
    """What a search wrote, and its best trial."""

    folder: Path
    rows: list[TrialRow]
    best: TrialRow | None
    files: list[Path]


def trial_rows(study: Any, space: SearchSpace) -> list[TrialRow]:
    """Every trial of the study, in order, with its decoded values and outcome."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        wall = None
        if trial.datetime_start and trial.datetime_complete:
            wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
        value = trial.value if trial.state.name == "COMPLETE" else None
        if trial.state.name == "PRUNED" and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        rows.append(
            TrialRow(
                number=trial.number,
                state=trial.state.name,
                value=value,
                params=decode_params(trial.params, space),
                frames=attrs.get("frames"),
                wall_s=wall,
                run_dir=attrs.get("run_dir"),
                note=_note(attrs),
            )
        )
    return rows


def _note(attrs: dict[str, Any]) -> str:
    if attrs.get("interrupted"):
        return "interrupted (search stopped); values re-queued"
    if "retry_of" in attrs:
        return f"re-run of trial {attrs['retry_of']}"
    error = str(attrs.get("error", ""))
    return error.strip().splitlines()[-1][:120] if error else ""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return format_value(value) if isinstance(value, (list, dict, bool)) else str(value)


def _markdown(
    settings: SearchSettings,
    name: str,
    folder: Path,
    storage: str,
    rows: list[TrialRow],
    best: TrialRow | None,
    plots: dict[str, str | None],
) -> str:
    keys = list(rows[0].params) if rows else []
    keys = sorted({k for row in rows for k in row.params}, key=lambda k: (k not in keys, k))
    overrides = " ".join(f"-s {o}" for o in settings.overrides) or "none"
    lines = [
        f"# Search {name}: {settings.family}/{settings.spec}",
        "",
        f"- Objective (maximised): {settings.objective}, {OBJECTIVE_TEXT[settings.objective]}.",
        f"- Space: `{settings.space_file}`; every trial also with {overrides}; "
        f"{settings.seeds} seed(s) per trial from seed {settings.base_seed}, "
        f"{settings.max_frame:,} frames.",
        f"- Sampler: TPE, seed {settings.seed}, {settings.startup_trials} random startup trials; "
        f"pruner: {_pruner_text(settings)}, on the logged "
        f"{'return_ma' if settings.objective == 'score' else 'eval_return'}.",
        f"- Study: `{storage}`. Each trial is an ordinary run folder (spec.json with its hash, "
        "provenance.json, metrics).",
        "",
        "## Best",
        "",
    ]
    if best is None:
        lines.append("No trial has finished yet.")
    else:
        lines += [
            f"Trial {best.number}: {_cell(best.value)}, values in `{BEST_FILE}`:",
            "",
            "```bash",
            f"rlpipe train {settings.family} {settings.spec} --overrides "
            + shlex.quote(str(folder / BEST_FILE)),
            "```",
            "",
            *(f"- `{key}` = {_cell(value)}" for key, value in best.params.items()),
        ]
    lines += ["", "## Trials", ""]
    header = ["#", *(f"`{k}`" for k in keys), "value", "state", "frames", "wall s", "note"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [
            str(row.number),
            *(_cell(row.params.get(k)) for k in keys),
            _cell(row.value),
            row.state.lower(),
            _cell(row.frames),
            "-" if row.wall_s is None else f"{row.wall_s:.0f}",
            row.note.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "A pruned trial's value is the last one it logged before it was stopped.",
        "",
        "## Plots",
        "",
    ]
    for title, path in plots.items():
        lines.append(f"![{title}]({path})" if path else f"{title}: {PLOT_MISSING}")
        lines.append("")
    return "\n".join(lines)


def _save_plot(axes: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    figure.set_size_inches(8, 4.5)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def _plots(study: Any, folder: Path) -> dict[str, str | None]:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as optuna_plots

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    written: dict[str, str | None] = {"optimisation history": None, "parameter importance": None}
    if not complete:
        return written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        _save_plot(optuna_plots.plot_optimization_history(study), folder / HISTORY_PLOT)
        written["optimisation history"] = HISTORY_PLOT
        if len(complete) >= 2:
            _save_plot(optuna_plots.plot_param_importances(study), folder / IMPORTANCE_PLOT)
            written["parameter importance"] = IMPORTANCE_PLOT
    return written


def write_search_report(
    study: Any, settings: SearchSettings, space: SearchSpace, name: str, folder: Path, storage: str
) -> SearchReport:
    """Write SEARCH.md, trials.json, the plots and best.yaml into the search folder."""
    rows = trial_rows(study, space)
    complete = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    best = max(complete, key=lambda r: r.value) if complete else None  # type: ignore[arg-type,return-value]
    plots = _plots(study, folder)
    files = [folder / path for path in plots.values() if path]
    if best is not None:
        header = (
            f"Best values of search {name} (trial {best.number}, {settings.objective} "
            f"{best.value:.4g}).\nrlpipe train {settings.family} {settings.spec} "
            f"--overrides {shlex.quote(str(folder / BEST_FILE))}"
        )
        write_overrides_file(folder / BEST_FILE, best.params, header)
        files.append(folder / BEST_FILE)
    atomic_write_json(
        folder / TRIALS_FILE,
        {"name": name, "settings": settings.__dict__, "trials": [r.__dict__ for r in rows]},
    )
    text = _markdown(settings, name, folder, storage, rows, best, plots)
    atomic_write_text(folder / SEARCH_FILE, text)
    files += [folder / TRIALS_FILE, folder / SEARCH_FILE]
    return SearchReport(folder, rows, best, files)


def _pruner_text(settings: SearchSettings) -> str:
    """When the search's pruner may stop a trial, as `_pruner` in study.py builds it."""
    if settings.pruner == "median":
        return (
            f"median (after {settings.startup_trials} trials and {settings.warmup_frames:,} frames)"
        )
    if settings.pruner == "hyperband":
        first = max(settings.warmup_frames, settings.log_interval)
        return f"hyperband (from {first:,} frames, from the first trial)"
    return "none"
