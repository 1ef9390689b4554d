"""The aggregate over envs: normalisation, IQM, stratified-bootstrap intervals and performance
profiles, against values computed by hand; the Aggregate section, its JSON and its plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlpipe.errors import RlpipeError
from rlpipe.report.aggregate import (
    collect_scores,
    iqm_with_ci,
    normalise,
    normalised_by_algorithm,
    performance_profile,
    profile_with_ci,
    read_random_scores,
    suite_aggregate,
)
from rlpipe.report.benchmarks import (
    format_aggregate_cells,
    parse_aggregate_rows,
    write_report,
)
from rlpipe.report.plots import plot_suite, profile_figure
from rlpipe.spec.suite import Suite, load_suite
from tests.fixtures import make_run, make_suite_file

RANDOM_CSV = """\
# made-up random-policy returns for tests
env,random_score,std,episodes,source
CartPole-v1,0.0,1.0,10,test
Pendulum-v1,-1200.0,1.0,10,test
"""
ENVS = {
    "cartpole": ("CartPole-v1", "classic", 400, 200_000),
    "pendulum": ("Pendulum-v1", "classic", -200, 300_000),
    "hopper": ("Hopper-v5", "mujoco", 2000, 3_000_000),
}
RUNS = [
    ("crossq", "cartpole", 1000),
    ("crossq", "pendulum", 1000),
    ("sac", "pendulum", 1000),
    ("crossq", "hopper", 1000),
]


def build_project(root: Path) -> Suite:
    """Fixture runs with hand-computable normalised scores (seed K ends at offset + 100 + 10K):

    crossq-cartpole 395, 405 -> 395/400, 405/400 = 0.9875, 1.0125
    crossq-pendulum -210, -200 -> (-210 + 1200) / 1000, ... = 0.99, 1.0
    sac-pendulum -200, -190 -> 1.0, 1.01
    crossq-hopper: no random score for Hopper-v5, left out
    """
    suite = load_suite(make_suite_file(root / "params" / "suite.yaml", ENVS, RUNS))
    runs = root / "runs"
    make_run(runs, "crossq-cartpole", "crossq", "cartpole", "CartPole-v1", score_offset=295.0)
    make_run(runs, "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1", score_offset=-310.0)
    make_run(runs, "sac-pendulum", "sac", "pendulum", "Pendulum-v1", score_offset=-300.0)
    make_run(runs, "crossq-hopper", "crossq", "hopper", "Hopper-v5")
    (root / "references").mkdir()
    (root / "references" / "random_scores.csv").write_text(RANDOM_CSV)
    return suite


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("aggregate") / "project"
    build_project(root)
    return root


def aggregate_of(project: Path):
    suite = load_suite(project / "params" / "suite.yaml")
    return suite_aggregate(suite, project / "runs", project / "references" / "random_scores.csv")


# --------------------------------------------------------------------------- statistics


def test_normalised_score_is_0_at_random_play_and_1_at_the_target():
    assert normalise(-1200.0, random=-1200.0, target=-200.0) == 0.0
    assert normalise(-200.0, random=-1200.0, target=-200.0) == 1.0
    assert normalise(-700.0, random=-1200.0, target=-200.0) == 0.5
    assert normalise(10.0, random=20.0, target=420.0) == pytest.approx(-0.025)


def test_a_target_equal_to_the_random_score_cannot_normalise():
    with pytest.raises(RlpipeError, match=r"target 5\.0 equals the random-policy score"):
        normalise(3.0, random=5.0, target=5.0)


def test_iqm_and_its_interval_on_two_envs_of_two_seeds_match_the_hand_computed_values():
    # pooled [0, 0.5, 1, 1.5]: IQM drops one from each end -> (0.5 + 1) / 2 = 0.75.
    # Resampling within envs, the lowest IQM is 0.25 (A = [0, 0] with B = [0.5, 0.5] or [0.5,
    # 1.5]: probability 3/16) and the highest 1.25 (probability 3/16), so the 2.5th and 97.5th
    # percentiles are exactly these two values.
    value, (lo, hi) = iqm_with_ci((np.array([0.0, 1.0]), np.array([0.5, 1.5])))
    assert value == 0.75
    assert (lo, hi) == (0.25, 1.25)


def test_seeds_are_resampled_within_each_env_never_across_envs():
    # Every within-env resample of [0, 0] and [1, 1] is the same four runs: the interval has no
    # width. Resampling the pooled runs instead would draw [0, 0, 0, 0] and [1, 1, 1, 1].
    value, (lo, hi) = iqm_with_ci((np.array([0.0, 0.0]), np.array([1.0, 1.0])))
    assert value == lo == hi == 0.5


def test_the_interval_is_the_same_for_the_same_scores():
    by_env = (
        np.array([0.1, 0.7, 0.4, 0.95, 0.3, 0.55]),
        np.array([0.9, 0.2, 0.5, 0.65, 0.05, 0.8]),
    )
    assert iqm_with_ci(by_env) == iqm_with_ci(by_env)
    assert iqm_with_ci(by_env, seed=1) != iqm_with_ci(by_env)


def test_performance_profile_is_the_fraction_above_tau_averaged_over_envs():
    by_env = (np.array([0.0, 0.5, 1.0, 1.5]), np.array([0.2, 1.2]))
    profile = performance_profile(by_env, np.array([0.0, 0.5, 1.0, 2.0]))
    # env A: 3/4, 2/4, 1/4, 0 above; env B: 2/2, 1/2, 1/2, 0 above; each env weighs the same
    # (pooling the six runs would give 5/6 at tau = 0)
    assert profile.tolist() == [0.875, 0.5, 0.375, 0.0]


def test_profile_band_has_no_width_with_one_seed_per_env():
    taus = np.array([0.0, 0.5, 1.0])
    profile, lo, hi = profile_with_ci((np.array([0.3]), np.array([0.8])), taus)
    assert profile.tolist() == lo.tolist() == hi.tolist() == [1.0, 0.5, 0.0]


# --------------------------------------------------------------------------- inputs


def test_random_scores_are_read_by_env_and_a_missing_file_gives_none(tmp_path):
    path = tmp_path / "random.csv"
    path.write_text(RANDOM_CSV)
    assert read_random_scores(path) == {"CartPole-v1": 0.0, "Pendulum-v1": -1200.0}
    assert read_random_scores(tmp_path / "absent.csv") == {}


@pytest.mark.parametrize(
    "text,message",
    [
        ("env,score\nCartPole-v1,22\n", "needs the columns env and random_score"),
        ("env,random_score\nCartPole-v1,lots\n", r"row 2 \(CartPole-v1\): random_score 'lots'"),
        ("env,random_score\nCartPole-v1,nan\n", "is not a finite number"),
        ("env,random_score\nCartPole-v1,22\nCartPole-v1,23\n", "CartPole-v1 is listed twice"),
    ],
)
def test_a_malformed_random_score_file_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "random.csv"
    path.write_text(text)
    with pytest.raises(RlpipeError, match=message):
        read_random_scores(path)


def test_per_seed_scores_come_from_the_summaries_in_report_order(project):
    suite = load_suite(project / "params" / "suite.yaml")
    runs = collect_scores(suite, project / "runs")
    assert [(r.run, r.seed_scores) for r in runs] == [
        ("crossq-cartpole", (395.0, 405.0)),
        ("crossq-pendulum", (-210.0, -200.0)),
        ("sac-pendulum", (-200.0, -190.0)),
        ("crossq-hopper", (100.0, 110.0)),
    ]
    by_algorithm = normalised_by_algorithm(
        runs, read_random_scores(project / "references" / "random_scores.csv")
    )
    assert [(a.algorithm, a.family, a.env_ids, a.runs) for a in by_algorithm] == [
        ("CrossQ", "crossq", ("CartPole-v1", "Pendulum-v1"), 4),
        ("SAC", "sac", ("Pendulum-v1",), 2),
    ]
    cartpole, pendulum = by_algorithm[0].by_env
    assert cartpole.tolist() == pytest.approx([0.9875, 1.0125])
    assert pendulum.tolist() == pytest.approx([0.99, 1.0])


def test_suite_aggregate_matches_the_hand_computed_iqm_and_interval(project):
    aggregate = aggregate_of(project)
    crossq, sac = aggregate.rows
    # CrossQ: pooled [0.9875, 0.99, 1.0, 1.0125] -> IQM (0.99 + 1.0) / 2; lowest resample
    # IQM (0.9875 + 0.99) / 2, highest (1.0 + 1.0125) / 2, each with probability >= 3/16
    assert crossq["algorithm"] == "CrossQ" and crossq["runs"] == 4
    assert crossq["envs"] == ["CartPole-v1", "Pendulum-v1"]
    assert crossq["iqm"] == pytest.approx(0.995)
    assert crossq["ci95"] == pytest.approx([0.98875, 1.00625])
    # SAC: one env, two seeds [1.0, 1.01]: nothing trimmed, mean 1.005; resamples 1.0 or 1.01
    # with probability 1/4 each
    assert sac["iqm"] == pytest.approx(1.005) and sac["ci95"] == pytest.approx([1.0, 1.01])
    assert aggregate.random_scores == {"CartPole-v1": 0.0, "Pendulum-v1": -1200.0}
    assert aggregate.left_out == ["Hopper-v5"]


def test_parity_runs_are_left_out_of_the_aggregate(tmp_path):
    suite_file = make_suite_file(tmp_path / "suite.yaml", ENVS, RUNS)
    text = (
        suite_file.read_text()
        + "  crossq-pendulum-sb3: {family: crossq, spec: pendulum, frames: 1000, peer: sb3}\n"
    )
    suite_file.write_text(text)
    runs = tmp_path / "runs"
    make_run(runs, "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1", score_offset=-310.0)
    make_run(runs, "crossq-pendulum-sb3", "crossq", "pendulum", "Pendulum-v1", score_offset=-900.0)
    assert [r.run for r in collect_scores(load_suite(suite_file), runs)] == ["crossq-pendulum"]


def test_aggregate_cells_give_two_decimals():
    row = {"algorithm": "CrossQ", "envs": ["A", "B", "C"], "runs": 12, "iqm": 0.4567,
           "ci95": [0.3012, 0.6049]}  # fmt: skip
    assert format_aggregate_cells(row) == {
        "Algorithm": "CrossQ",
        "Envs": "3",
        "Runs": "12",
        "IQM normalised score (95% CI)": "0.46 [0.30, 0.60]",
    }


# --------------------------------------------------------------------------- report and plot


@pytest.fixture(scope="module")
def written(project) -> tuple[str, dict]:
    suite = load_suite(project / "params" / "suite.yaml")
    plot_suite(suite, project / "runs", project / "reports" / "plots",
               project / "references" / "random_scores.csv")  # fmt: skip
    markdown, data = write_report(
        suite,
        "params/suite.yaml",
        project / "reports",
        project / "runs",
        random_scores=project / "references" / "random_scores.csv",
    )
    return markdown.read_text(), json.loads(data.read_text())


def test_report_has_an_aggregate_table_and_the_profile_plot(written, project):
    text, _ = written
    assert parse_aggregate_rows(text) == [
        {"Algorithm": "CrossQ", "Envs": "2", "Runs": "4",
         "IQM normalised score (95% CI)": format_aggregate_cells(aggregate_of(project).rows[0])[
             "IQM normalised score (95% CI)"]},
        {"Algorithm": "SAC", "Envs": "1", "Runs": "2",
         "IQM normalised score (95% CI)": "1.00 [1.00, 1.01]"},
    ]  # fmt: skip
    assert "![performance profile](plots/profile.png)" in text
    assert (project / "reports" / "plots" / "profile.png").read_bytes()[:4] == b"\x89PNG"
    # the two algorithms cover different envs, and the report says so
    assert "- CrossQ: CartPole-v1, Pendulum-v1\n- SAC: Pendulum-v1" in text
    assert text.index("## MuJoCo") < text.index("## Aggregate") < text.index("## Notes")


def test_notes_say_how_scores_are_normalised_and_which_envs_are_left_out(written):
    text, _ = written
    notes = text[text.index("## Notes") :]
    assert "(score - random) / (target - random)" in notes
    assert "Random scores used: CartPole-v1 0, Pendulum-v1 -1200." in notes
    assert (
        "Left out (no random-policy score in `references/random_scores.csv`): Hopper-v5." in notes
    )
    assert "stratified-bootstrap interval (10,000 resamples, seed 0" in notes


def test_benchmarks_json_carries_the_aggregate(written, project):
    _, document = written
    aggregate = document["aggregate"]
    assert [row["algorithm"] for row in aggregate["rows"]] == ["CrossQ", "SAC"]
    assert aggregate["rows"][0]["iqm"] == pytest.approx(0.995)
    assert aggregate["random_scores"] == {"CartPole-v1": 0.0, "Pendulum-v1": -1200.0}
    assert aggregate["left_out_envs"] == ["Hopper-v5"]
    assert aggregate["normalisation"] == "(score - random) / (target - random)"


def test_profile_figure_draws_one_line_and_band_per_algorithm_and_marks_the_target(project):
    suite = load_suite(project / "params" / "suite.yaml")
    algorithms = normalised_by_algorithm(
        collect_scores(suite, project / "runs"),
        read_random_scores(project / "references" / "random_scores.csv"),
    )
    axes = profile_figure(algorithms).axes[0]
    lines = axes.get_lines()
    labels = [line.get_label() for line in lines]
    assert labels[:2] == ["CrossQ (2 envs, 4 runs)", "SAC (1 env, 2 runs)"]
    target = lines[2]
    assert list(target.get_xdata()) == [1.0, 1.0]  # the dashed target line
    sac_x, sac_y = lines[1].get_xdata(), lines[1].get_ydata()
    # SAC's runs are 1.0 and 1.01: every run is above tau = 0.5, none above tau = 1.01
    assert sac_y[np.searchsorted(sac_x, 0.5)] == 1.0
    assert sac_y[-1] == 0.0
