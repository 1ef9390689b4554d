"""`rlpipe compare` on fixture run folders: runs of different envs refused unless --any-env, no CI
or verdict from a single seed (text and --json), and --plot refusing a file it cannot write
truthfully (an extension of another format, a run without training curves)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from tests.fixtures import make_run


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """Fixture runs of 4 seeds (two on Pendulum, one on Hopper) and one of 1 seed; the working
    directory is their parent, so they are named runs/KEY or by suite key."""
    root = tmp_path / "runs"
    make_run(root, "sac-pendulum", "sac", "pendulum", "Pendulum-v1", seeds=4)
    make_run(root, "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1", seeds=4, score_offset=50)
    make_run(root, "crossq-hopper", "crossq", "hopper", "Hopper-v5", seeds=4, score_offset=900)
    make_run(root, "sac-pendulum-1", "sac", "pendulum", "Pendulum-v1", seeds=1, score_offset=50)
    monkeypatch.chdir(tmp_path)
    return root


def compare(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["compare", *args], terminal_width=400)
    return result.exit_code, result.output


def test_runs_of_different_envs_are_refused_naming_both_env_ids(runs):
    code, output = compare("sac-pendulum", "crossq-hopper")
    assert code == 2
    assert "sac-pendulum trained on Pendulum-v1, but crossq-hopper on Hopper-v5" in output
    assert "--any-env" in output and "higher" not in output


def test_any_env_compares_runs_of_different_envs(runs):
    code, output = compare("sac-pendulum", "crossq-hopper", "--any-env")
    assert code == 0, output
    assert "crossq-hopper is higher than sac-pendulum" in output


def test_runs_of_one_env_still_get_intervals_and_a_verdict(runs):
    code, output = compare("sac-pendulum", "crossq-pendulum")
    assert code == 0, output
    assert "difference of means +50.0 [" in output
    assert "crossq-pendulum is higher than sac-pendulum (the 95% CI" in output


def test_a_run_of_one_seed_gets_its_difference_but_no_ci_or_verdict(runs):
    code, output = compare("sac-pendulum", "sac-pendulum-1")
    assert code == 0, output
    assert "difference of means +35.0 (no CI)" in output
    assert "too few seeds for a CI or a verdict: 1 and 4 seeds" in output
    assert "excludes 0" not in output and "[" not in output.split("vs sac-pendulum")[-1]


def test_json_of_a_run_of_one_seed_has_null_intervals_and_verdict(runs):
    code, output = compare("sac-pendulum", "sac-pendulum-1", "sac-pendulum", "--json")
    assert code == 0, output
    few, enough = json.loads(output)["comparisons"]
    assert few["too_few_seeds"] is True and few["verdict"] is None
    assert few["mean_difference"] == {"value": 35.0, "ci95": None}
    assert few["probability_of_improvement"]["ci95"] is None
    assert enough["too_few_seeds"] is False and enough["verdict"].startswith("not distinguish")
    assert len(enough["mean_difference"]["ci95"]) == 2


@pytest.mark.parametrize("name", ["curves.txt", "curves", "runs/sac-pendulum/summary.json"])
def test_a_plot_path_of_another_format_is_refused_before_anything_is_written(runs, name):
    summary = (runs / "sac-pendulum" / "summary.json").read_bytes()
    code, output = compare("sac-pendulum", "crossq-pendulum", "--plot", name)
    assert code == 2
    assert "a plot is written in the format its extension names (.png, .svg, .pdf)" in output
    assert (runs / "sac-pendulum" / "summary.json").read_bytes() == summary
    assert not Path("curves.txt").exists() and not Path("curves").exists()


@pytest.mark.parametrize(("name", "magic"), [("curves.png", b"\x89PNG"), ("curves.svg", b"<?xml")])
def test_the_plot_is_written_in_its_extensions_format(runs, name, magic):
    code, output = compare("sac-pendulum", "crossq-pendulum", "--plot", name)
    assert code == 0, output
    assert Path(name).read_bytes().startswith(magic)


def test_a_plot_with_a_run_without_training_curves_is_refused_naming_the_run(runs):
    (runs / "sac-pendulum-1" / "seed-0" / "metrics.csv").unlink()
    code, output = compare("sac-pendulum", "sac-pendulum-1", "--plot", "curves.png")
    assert code == 2
    assert "no training curve to draw for sac-pendulum-1" in output
    assert not Path("curves.png").exists()
