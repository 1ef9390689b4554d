"""`rlpipe plot`: training return vs frames per env, frames/s vs wall time and the performance
profile across envs, as stable PNGs.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas (no pyplot state) and saved
without software/date metadata at a fixed size and dpi, so the same inputs give the same bytes.
The band around each mean is a normal-approximation 95% CI over seeds: mean ± 1.96·SEM with
SEM = std(ddof=1) / sqrt(n), computed per logged frame over the seeds that have a value there
(a bootstrap per frame is too slow); where only one seed has a value there is no band. Each
seed's own curve is drawn thin and faint under the mean.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from rlpipe.algos.registry import ALGORITHMS, display_name
from rlpipe.errors import RlpipeError
from rlpipe.report.aggregate import (
    RANDOM_SCORES,
    AlgorithmScores,
    collect_scores,
    normalised_by_algorithm,
    profile_taus,
    profile_with_ci,
    read_random_scores,
)
from rlpipe.rundir import RunFolder, atomic_write_bytes
from rlpipe.spec.suite import Suite

FALLBACK_COLORS = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79")
"""Colours for names not in the algorithm registry, picked by a hash of the name."""
OVERLAY_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
"""Colours of the runs of `rlpipe compare --plot`, in the order they are named."""
FIGURE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
"""What `rlpipe compare --plot` writes: matplotlib's format for each file extension."""
_NO_METADATA = {
    "svg": {"Creator": None, "Date": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}
"""Per format other than PNG (save_png's), the metadata matplotlib would write that says which
software, or when."""
FPS_FILE = "fps.png"
PROFILE_FILE = "profile.png"
SEED_LINEWIDTH = 0.7
SEED_ALPHA = 0.3
FIGSIZE = (8.0, 5.0)
DPI = 100
Z_95 = 1.96
_LINESTYLES = ("-", "--", ":", "-.")
_THOUSANDS = FuncFormatter(lambda value, _position: f"{value:,.0f}")


def algo_color(family: str) -> str:
    """Return the fixed colour of an algorithm (a stable fallback for unknown ones)."""
    if family in ALGORITHMS:
        return ALGORITHMS[family].color
    digest = hashlib.sha256(family.encode("utf-8")).digest()
    return FALLBACK_COLORS[int.from_bytes(digest[:8], "big") % len(FALLBACK_COLORS)]


def aligned(run_dir: Path, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (frames, values[frame, seed]) of one metrics column, NaN where a seed has none."""
    by_seed = []
    for folder in RunFolder(run_dir).seeds_with_metrics():
        rows = folder.read_metrics()
        by_seed.append({row["frame"]: row.get(column) for row in rows if row["frame"] is not None})
    frames = sorted(set().union(*by_seed))
    values = np.full((len(frames), len(by_seed)), np.nan)
    for j, seed_values in enumerate(by_seed):
        for i, frame in enumerate(frames):
            value = seed_values.get(frame)
            if value is not None:
                values[i, j] = value
    return np.asarray(frames, dtype=np.float64), values


def mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (mean, lo, hi) per row over finite entries: mean ± 1.96·SEM, no band for one seed.

    Rows without any finite value are NaN.
    """
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    filled = np.where(finite, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / count
        deviation = np.where(finite, values - mean[:, None], 0.0)
        variance = (deviation**2).sum(axis=1) / np.maximum(count - 1, 1)
        half = np.where(count >= 2, Z_95 * np.sqrt(variance / count), 0.0)
    return mean, mean - half, mean + half


def _run_frames(run_dir: Path, frames: np.ndarray) -> int:
    """Return the frames a run trained for: summary.json's, else the last logged frame."""
    run = RunFolder(run_dir)
    if run.finished():
        return run.read_summary().frames
    return int(frames.max()) if frames.size else 0


def _new_axes() -> tuple[Figure, Axes]:
    """Return a fixed-size Figure on an Agg canvas and its one Axes."""
    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(alpha=0.3)
    return figure, axes


def _draw_run(axes: Axes, values: np.ndarray, frames: np.ndarray, color: str, name: str) -> bool:
    """Each seed's curve faintly, the mean and its 95% band boldly; False if nothing to draw."""
    mean, lo, hi = mean_ci(values)
    keep = np.isfinite(mean)
    if not keep.any():
        return False
    for seed_values in values.T:
        logged = np.isfinite(seed_values)
        axes.plot(
            frames[logged],
            seed_values[logged],
            color=color,
            linewidth=SEED_LINEWIDTH,
            alpha=SEED_ALPHA,
            label="_seed",  # a leading underscore keeps it out of the legend
        )
    seeds = values.shape[1]
    label = f"{name} ({seeds} seed{'s' if seeds != 1 else ''})"
    axes.plot(frames[keep], mean[keep], color=color, linewidth=1.8, label=label)
    axes.fill_between(frames[keep], lo[keep], hi[keep], color=color, alpha=0.2, linewidth=0)
    return True


def _finish_axes(axes: Axes, title: str, empty: str) -> None:
    axes.set_title(title)
    axes.set_xlabel("env frames")
    axes.set_ylabel("training return (moving average)")
    if axes.get_lines():
        axes.legend(title="mean, 95% CI (±1.96·SEM); faint: each seed", loc="best")
    else:
        axes.text(0.5, 0.5, empty, ha="center")


def env_figure(spec_name: str, env_id: str, runs: dict[str, Path]) -> Figure:
    """Return the figure of return_ma vs frames for one env: per family, mean and 95% CI band."""
    figure, axes = _new_axes()
    axes.xaxis.set_major_formatter(_THOUSANDS)
    most_frames = 0
    for family, run_dir in runs.items():
        frames, values = aligned(run_dir, "return_ma")
        most_frames = max(most_frames, _run_frames(run_dir, frames))
        _draw_run(axes, values, frames, algo_color(family), display_name(family))
    _finish_axes(
        axes, f"{env_id} — {most_frames:,} frames", f"no training returns logged for {spec_name}"
    )
    return figure


def overlay_figure(title: str, runs: dict[str, Path]) -> Figure:
    """Return the training curves of several runs of one env (labelled as the dict's keys),
    each in its own colour: `rlpipe compare --plot`. A run without a curve to draw (no seed's
    metrics.csv with training returns) is an RlpipeError, not left out of a figure whose title
    names it."""
    figure, axes = _new_axes()
    axes.xaxis.set_major_formatter(_THOUSANDS)
    without = []
    for index, (name, run_dir) in enumerate(runs.items()):
        frames, values = aligned(run_dir, "return_ma")
        color = OVERLAY_COLORS[index % len(OVERLAY_COLORS)]
        if not _draw_run(axes, values, frames, color, name):
            without.append(name if str(run_dir) == name else f"{name} ({run_dir})")
    if without:
        raise RlpipeError(
            f"--plot: no training curve to draw for {', '.join(without)}: no seed-K/metrics.csv "
            "with training returns (return_ma); nothing was written. Drop --plot to compare "
            "the scores alone"
        )
    _finish_axes(axes, title, "no training returns logged")
    return figure


def _run_family(run_key: str, run_dir: Path) -> str:
    """Return a run's algorithm family from its spec.json, else the run key's prefix."""
    run = RunFolder(run_dir)
    family = run.read_family() if run.holds_run() else None
    return family or run_key.split("-", 1)[0]


def fps_figure(runs: dict[str, Path]) -> Figure:
    """Return the figure of frames/s vs wall-clock seconds, one line per run (mean over seeds),
    on a log frames/s axis so the burst before learning starts does not flatten the rest."""
    figure, axes = _new_axes()
    axes.set_yscale("log")
    per_family: dict[str, int] = {}
    for run_key, run_dir in runs.items():
        _, wall = aligned(run_dir, "wall_s")
        _, fps = aligned(run_dir, "fps")
        wall_mean, fps_mean = mean_ci(wall)[0], mean_ci(fps)[0]
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(wall_mean) & np.isfinite(fps_mean) & (fps_mean > 0)
        if not keep.any():
            continue
        family = _run_family(run_key, run_dir)
        style = _LINESTYLES[per_family.get(family, 0) % len(_LINESTYLES)]
        per_family[family] = per_family.get(family, 0) + 1
        axes.plot(
            wall_mean[keep],
            fps_mean[keep],
            color=algo_color(family),
            linestyle=style,
            label=run_key,
        )
    axes.set_title("throughput (log scale)")
    axes.set_xlabel("wall-clock seconds")
    axes.set_ylabel("env frames / s over each log interval")
    if axes.get_lines():
        axes.legend(loc="best", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no run has logged metrics yet", ha="center")
    return figure


def profile_figure(algorithms: list[AlgorithmScores]) -> Figure:
    """Return the performance profile: per algorithm, the fraction of runs with a normalised
    score above tau, with its 95% stratified-bootstrap band; tau = 1 is the target."""
    figure, axes = _new_axes()
    taus = profile_taus(algorithms)
    for scores in algorithms:
        profile, lo, hi = profile_with_ci(scores.by_env, taus)
        color = algo_color(scores.family)
        envs = len(scores.env_ids)
        label = f"{scores.algorithm} ({envs} env{'s' if envs != 1 else ''}, {scores.runs} runs)"
        axes.plot(taus, profile, color=color, linewidth=1.8, label=label)
        axes.fill_between(taus, lo, hi, color=color, alpha=0.2, linewidth=0)
    axes.axvline(1.0, color="black", linestyle="--", linewidth=0.8)
    axes.set_ylim(-0.02, 1.02)
    axes.set_title("performance profile")
    axes.set_xlabel("normalised score τ: (score − random) / (target − random)")
    axes.set_ylabel("fraction of runs with score > τ")
    if algorithms:
        axes.legend(title="95% stratified-bootstrap band", loc="best")
    else:
        axes.text(0.5, 0.5, "no run has a normalised score yet", ha="center")
    return figure


def save_png(figure: Figure, out_path: Path) -> Path:
    """Write `figure` as a PNG with no software/date metadata, atomically; return the path."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(out_path, buffer.getvalue())
    return Path(out_path)


def figure_format(out_path: Path) -> str:
    """The matplotlib format a figure file's extension names (.png, .svg or .pdf); any other
    extension is an RlpipeError."""
    suffix = Path(out_path).suffix
    if suffix.lower() not in FIGURE_FORMATS:
        named = f"{suffix} is none of them" if suffix else "it has no extension"
        raise RlpipeError(
            f"{out_path}: a plot is written in the format its extension names "
            f"({', '.join(FIGURE_FORMATS)}), and {named}; nothing was written. Name it "
            f"{Path(out_path).with_suffix('.png') if Path(out_path).name else 'plot.png'}, for "
            "instance"
        )
    return FIGURE_FORMATS[suffix.lower()]


def save_figure(figure: Figure, out_path: Path) -> Path:
    """Write `figure` in the format its extension names (figure_format), without software or
    date metadata and with stable bytes, atomically; return the path."""
    file_format = figure_format(out_path)
    if file_format == "png":
        return save_png(figure, out_path)
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": "rlpipe"}):  # SVG element ids from a fixed salt
        figure.savefig(buffer, format=file_format, dpi=DPI, metadata=_NO_METADATA[file_format])
    atomic_write_bytes(out_path, buffer.getvalue())
    return Path(out_path)


def plot_env(spec_name: str, env_id: str, runs: dict[str, Path], out_path: Path) -> Path:
    """Write the return-vs-frames PNG of one env (runs keyed by family); return its path."""
    return save_png(env_figure(spec_name, env_id, runs), out_path)


def plot_fps(runs: dict[str, Path], out_path: Path) -> Path:
    """Write the frames/s-vs-wall-time PNG of the runs (keyed by run key); return its path."""
    return save_png(fps_figure(runs), out_path)


def plot_suite(
    suite: Suite,
    runs_root: Path = Path("runs"),
    plots_dir: Path = Path("reports/plots"),
    random_scores: Path = RANDOM_SCORES,
) -> list[Path]:
    """Write <spec>.png for every env with a run that has metrics, plus fps.png and the
    performance profile (profile.png); return the paths."""
    with_metrics = {
        key: Path(runs_root) / key
        for key in suite.runs
        if RunFolder(Path(runs_root) / key).seeds_with_metrics()
    }
    written = []
    for spec_name, env in suite.envs.items():
        runs = {
            suite.runs[key].family: run_dir
            for key, run_dir in with_metrics.items()
            if suite.runs[key].spec == spec_name
        }
        if runs:
            written.append(plot_env(spec_name, env.id, runs, Path(plots_dir) / f"{spec_name}.png"))
    written.append(plot_fps(with_metrics, Path(plots_dir) / FPS_FILE))
    algorithms = normalised_by_algorithm(
        collect_scores(suite, runs_root), read_random_scores(random_scores)
    )
    written.append(save_png(profile_figure(algorithms), Path(plots_dir) / PROFILE_FILE))
    return written
