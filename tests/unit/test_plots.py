"""Plots: one line per family with a fixed colour, seeds aligned on frames, stable PNG bytes;
`rlpipe compare --plot`'s overlay and the formats its file extension may name."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex

from rlpipe.algos.registry import ALGORITHMS
from rlpipe.errors import RlpipeError
from rlpipe.report.plots import (
    FALLBACK_COLORS,
    SEED_ALPHA,
    SEED_LINEWIDTH,
    algo_color,
    aligned,
    env_figure,
    figure_format,
    fps_figure,
    mean_ci,
    overlay_figure,
    plot_env,
    plot_suite,
    save_figure,
)
from rlpipe.rundir import MetricsLog
from rlpipe.spec.suite import load_suite
from tests.fixtures import FIXTURE_COLUMNS, make_run, make_suite_file, seed_fps

ALGO_COLORS = {name: entry.color for name, entry in ALGORITHMS.items()}

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Run folders: sac-pendulum (2 seeds), crossq-pendulum (3 seeds), crossq-cartpole (1 seed)."""
    root = tmp_path_factory.mktemp("plots") / "runs"
    make_run(root, "sac-pendulum", "sac", "pendulum", "Pendulum-v1", score_offset=-300.0)
    make_run(root, "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1", seeds=3)
    make_run(root, "crossq-cartpole", "crossq", "cartpole", "CartPole-v1", seeds=1, frames=400)
    return root


def labelled_lines(figure) -> list:
    """The lines in the legend (the means); per-seed lines are labelled '_seed'."""
    return [line for line in figure.axes[0].get_lines() if not line.get_label().startswith("_")]


def line_colors(figure) -> dict[str, str]:
    return {line.get_label(): to_hex(line.get_color()) for line in labelled_lines(figure)}


def test_env_figure_draws_one_line_per_family_in_its_fixed_colour(runs):
    figure = env_figure(
        "pendulum",
        "Pendulum-v1",
        {"sac": runs / "sac-pendulum", "crossq": runs / "crossq-pendulum"},
    )
    assert line_colors(figure) == {
        "SAC (2 seeds)": ALGO_COLORS["sac"],
        "CrossQ (3 seeds)": ALGO_COLORS["crossq"],
    }
    bands = [c for c in figure.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2


def test_a_family_has_the_same_colour_in_every_figure(runs):
    pendulum = env_figure("pendulum", "Pendulum-v1", {"crossq": runs / "crossq-pendulum"})
    cartpole = env_figure("cartpole", "CartPole-v1", {"crossq": runs / "crossq-cartpole"})
    fps = fps_figure({key: runs / key for key in ("sac-pendulum", "crossq-cartpole")})
    crossq = ALGO_COLORS["crossq"]
    assert list(line_colors(pendulum).values()) == [crossq]
    assert list(line_colors(cartpole).values()) == [crossq]
    assert line_colors(fps) == {"sac-pendulum": ALGO_COLORS["sac"], "crossq-cartpole": crossq}


def test_unknown_family_gets_a_stable_palette_colour():
    colour = algo_color("td3")
    assert colour in FALLBACK_COLORS and colour not in ALGO_COLORS.values()
    assert algo_color("td3") == colour


def test_line_is_the_mean_over_seeds_from_the_first_logged_return(runs):
    figure = env_figure("pendulum", "Pendulum-v1", {"sac": runs / "sac-pendulum"})
    (line,) = labelled_lines(figure)
    # fixture logs at 250, 500, 750, 1000; at 250 no episode has finished (return_ma empty)
    assert list(line.get_xdata()) == [500.0, 750.0, 1000.0]
    # seed K: -300 + 100 * frame / 1000 + 10 * K, mean over K = 0, 1
    assert list(line.get_ydata()) == pytest.approx([-245.0, -220.0, -195.0])
    assert figure.axes[0].get_title() == "Pendulum-v1 — 1,000 frames"
    assert figure.axes[0].get_xlabel() == "env frames"


def test_mean_ci_is_mean_plus_minus_1_96_sem_and_no_band_for_one_seed():
    values = np.array([[1.0, 3.0], [2.0, np.nan], [np.nan, np.nan], [1.0, 2.0]])
    mean, lo, hi = mean_ci(values)
    # sem of [1, 3] = std(ddof=1) / sqrt(2) = sqrt(2) / sqrt(2) = 1
    assert mean[:2].tolist() == [2.0, 2.0] and math.isnan(mean[2])
    assert lo[0] == pytest.approx(2.0 - 1.96) and hi[0] == pytest.approx(2.0 + 1.96)
    assert lo[1] == hi[1] == 2.0
    assert hi[3] - lo[3] == pytest.approx(2 * 1.96 * 0.5)


def test_seeds_logging_different_frames_are_aligned_on_the_frame_column(tmp_path):
    run_dir = tmp_path / "crossq-pendulum"
    for seed, frames in ((0, (100, 200)), (1, (100, 200, 300))):
        with MetricsLog(run_dir / f"seed-{seed}" / "metrics.csv", FIXTURE_COLUMNS) as log:
            for frame in frames:
                log.append({"frame": frame, "return_ma": frame + seed})
    frames, values = aligned(run_dir, "return_ma")
    assert frames.tolist() == [100.0, 200.0, 300.0]
    assert values[:2].tolist() == [[100.0, 101.0], [200.0, 201.0]]
    assert math.isnan(values[2, 0]) and values[2, 1] == 301.0


def test_fps_figure_draws_one_line_per_run_against_wall_time(runs):
    figure = fps_figure({key: runs / key for key in ("crossq-pendulum", "crossq-cartpole")})
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["crossq-pendulum", "crossq-cartpole"]
    assert lines[0].get_linestyle() != lines[1].get_linestyle()  # same family, told apart
    mean_fps = np.mean([seed_fps(seed) for seed in range(3)])
    assert lines[0].get_ydata() == pytest.approx([mean_fps] * 4)
    # wall_s at frame 1000 is the mean over seeds of 1000 / fps
    last_wall = np.mean([1000 / seed_fps(seed) for seed in range(3)])
    assert lines[0].get_xdata()[-1] == pytest.approx(last_wall)


def test_plot_env_writes_identical_png_bytes_without_software_metadata(runs, tmp_path):
    family_runs = {"sac": runs / "sac-pendulum", "crossq": runs / "crossq-pendulum"}
    first = plot_env("pendulum", "Pendulum-v1", family_runs, tmp_path / "a" / "pendulum.png")
    second = plot_env("pendulum", "Pendulum-v1", family_runs, tmp_path / "b" / "pendulum.png")
    data = first.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert data == second.read_bytes()
    assert b"Software" not in data and b"matplotlib" not in data
    assert not list((tmp_path / "a").glob(".*.tmp"))


def test_plot_suite_writes_a_png_per_env_with_metrics_plus_fps(runs, tmp_path):
    suite = load_suite(
        make_suite_file(
            tmp_path / "suite.yaml",
            envs={
                "pendulum": ("Pendulum-v1", "classic", -200, 300_000),
                "hopper": ("Hopper-v5", "mujoco", 2000, 3_000_000),
                "cartpole": ("CartPole-v1", "classic", 400, 200_000),
            },
            runs=[
                ("sac", "pendulum", 1000),
                ("crossq", "pendulum", 1000),
                ("crossq", "hopper", 1000),  # no run folder: no hopper.png
                ("crossq", "cartpole", 400),
            ],
        )
    )
    written = plot_suite(suite, runs, tmp_path / "plots")
    assert [path.name for path in written] == [
        "pendulum.png",
        "cartpole.png",
        "fps.png",
        "profile.png",
    ]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in written)
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_suite_without_runs_still_writes_the_fps_and_profile_plots(tmp_path):
    suite = load_suite(make_suite_file(tmp_path / "suite.yaml"))
    written = plot_suite(suite, tmp_path / "runs", tmp_path / "plots")
    assert [path.name for path in written] == ["fps.png", "profile.png"]
    assert all(path.read_bytes()[:8] == PNG_MAGIC for path in written)


def test_every_seed_is_drawn_thin_and_faint_under_the_mean(runs):
    figure = env_figure("pendulum", "Pendulum-v1", {"crossq": runs / "crossq-pendulum"})
    lines = figure.axes[0].get_lines()
    seeds = [line for line in lines if line.get_label() == "_seed"]
    (mean,) = labelled_lines(figure)
    assert len(seeds) == 3
    assert lines.index(mean) > max(lines.index(line) for line in seeds)  # drawn on top
    for seed, line in enumerate(seeds):
        assert line.get_alpha() == SEED_ALPHA <= 0.3
        assert line.get_linewidth() == SEED_LINEWIDTH < mean.get_linewidth()
        assert to_hex(line.get_color()) == ALGO_COLORS["crossq"]
        # fixture seed K: 100 * frame / 1000 + 10 * K, from the first logged return
        assert list(line.get_xdata()) == [500.0, 750.0, 1000.0]
        assert list(line.get_ydata()) == pytest.approx(
            [50 + 10 * seed, 75 + 10 * seed, 100 + 10 * seed]
        )
    legend_labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend_labels == ["CrossQ (3 seeds)"]


def test_fps_axis_is_logarithmic_so_a_pre_learning_burst_does_not_flatten_the_lines(tmp_path):
    run_dir = tmp_path / "crossq-hopper"
    with MetricsLog(run_dir / "seed-0" / "metrics.csv", FIXTURE_COLUMNS) as log:
        # 10k frames/s before learning starts, then about 30 frames/s
        for frame, wall, fps in ((1000, 0.1, 10_000.0), (2000, 33.4, 30.0), (3000, 66.7, 30.0)):
            log.append({"frame": frame, "wall_s": wall, "fps": fps})
    axes = fps_figure({"crossq-hopper": run_dir}).axes[0]
    assert axes.get_yscale() == "log"
    assert "log" in axes.get_title()
    (line,) = axes.get_lines()
    assert list(line.get_ydata()) == [10_000.0, 30.0, 30.0]
    low, high = axes.get_ylim()
    assert low < 30.0 and high > 10_000.0


def test_overlay_figure_draws_every_run_it_names(runs):
    figure = overlay_figure("a vs b", {"a": runs / "sac-pendulum", "b": runs / "crossq-pendulum"})
    assert [line.get_label() for line in labelled_lines(figure)] == ["a (2 seeds)", "b (3 seeds)"]


def test_overlay_figure_refuses_a_run_without_training_curves_naming_it(runs, tmp_path):
    bare = tmp_path / "bare-run"
    make_run(tmp_path, "bare-run", "sac", "pendulum", "Pendulum-v1")
    for seed in (0, 1):
        (bare / f"seed-{seed}" / "metrics.csv").unlink()
    with pytest.raises(RlpipeError, match=r"no training curve to draw for b \(.*bare-run\)"):
        overlay_figure("a vs b", {"a": runs / "sac-pendulum", "b": bare})


@pytest.mark.parametrize(
    ("name", "file_format"), [("x.png", "png"), ("x.svg", "svg"), ("x.PDF", "pdf")]
)
def test_figure_format_follows_the_extension(name, file_format):
    assert figure_format(Path(name)) == file_format


@pytest.mark.parametrize("name", ["x.txt", "x", "summary.json", "x.jpg"])
def test_figure_format_refuses_an_extension_it_does_not_write(name):
    with pytest.raises(RlpipeError, match=r"\(\.png, \.svg, \.pdf\)") as error:
        figure_format(Path(name))
    assert str(error.value).endswith(f"{Path(name).with_suffix('.png')}, for instance")


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_save_figure_writes_the_extensions_format_with_stable_bytes(runs, tmp_path, suffix, magic):
    family_runs = {"sac": runs / "sac-pendulum"}
    first = save_figure(env_figure("pendulum", "Pendulum-v1", family_runs), tmp_path / f"a{suffix}")
    second = save_figure(
        env_figure("pendulum", "Pendulum-v1", family_runs), tmp_path / f"b{suffix}"
    )
    assert first.read_bytes().startswith(magic)
    assert first.read_bytes() == second.read_bytes()
    assert b"matplotlib.org" not in first.read_bytes()


@pytest.mark.parametrize("path", [".", "/"])
def test_a_plot_path_without_a_name_is_refused_suggesting_one(path):
    with pytest.raises(
        RlpipeError, match=r"it has no extension; nothing was written\. Name it plot\.png"
    ):
        figure_format(Path(path))
