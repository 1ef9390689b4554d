"""`rlpipe report` and `rlpipe plot` with a --runs folder that does not hold the suite's runs:
refused before anything is written, so a typo never replaces the committed report or plots;
a suite with some runs not trained yet still gets its report."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from tests.fixtures import make_run, make_suite_file

WRITTEN = {"report": ["BENCHMARKS.md", "benchmarks.json"], "plot": ["pendulum.png", "fps.png"]}
"""What each command writes into its --out folder."""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project with a two-run suite, one run trained, and its committed report and plots."""
    make_suite_file(
        tmp_path / "params" / "suite.yaml", runs=[("sac", "pendulum", 1000), ("sac", "lunar", 1000)]
    )
    make_run(tmp_path / "runs", "sac-pendulum", "sac", "pendulum", "Pendulum-v1")
    (tmp_path / "pipelines").mkdir()
    monkeypatch.chdir(tmp_path)
    assert cli("plot", "--out", "reports/plots")[0] == 0
    assert cli("report")[0] == 0
    return tmp_path


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    return result.exit_code, result.output


def committed(project: Path) -> dict[str, bytes]:
    reports = project / "reports"
    return {str(p.relative_to(reports)): p.read_bytes() for p in reports.rglob("*") if p.is_file()}


def out_args(command: str) -> list[str]:
    return ["--out", "reports/plots"] if command == "plot" else []


@pytest.mark.parametrize("command", ["report", "plot"])
def test_a_runs_folder_that_does_not_exist_is_refused_and_nothing_is_written(project, command):
    before = committed(project)
    code, output = cli(command, "--runs", "rusn", *out_args(command))
    assert code == 2, output
    assert "the runs folder rusn does not exist; nothing was written" in output
    assert committed(project) == before


@pytest.mark.parametrize("command", ["report", "plot"])
def test_a_runs_folder_without_any_suite_run_is_refused_and_nothing_is_written(project, command):
    (project / "scratch" / "crossq-hopper" / "seed-0").mkdir(parents=True)
    before = committed(project)
    code, output = cli(command, "--runs", "scratch", *out_args(command))
    assert code == 2, output
    assert "scratch holds none of the 2 runs of params/suite.yaml" in output
    assert "nothing was written" in output
    assert committed(project) == before


@pytest.mark.parametrize("command", ["report", "plot"])
def test_a_suite_with_some_runs_not_trained_yet_still_writes(project, command, tmp_path):
    out = ["--out", str(tmp_path / "fresh")]
    code, output = cli(command, *out)
    assert code == 0, output
    for name in WRITTEN[command]:
        assert (tmp_path / "fresh" / name).is_file()
    if command == "report":
        assert "warning:" in output and "sac-lunar (0/2 seeds trained)" in output


@pytest.mark.parametrize("command", ["report", "plot"])
def test_a_run_with_a_torn_metrics_file_is_refused_and_nothing_is_written(project, command):
    metrics = project / "runs" / "sac-pendulum" / "seed-1" / "metrics.csv"
    metrics.write_bytes(metrics.read_bytes()[:-7])  # a crash in mid-row
    before = committed(project)
    code, output = cli(command, *out_args(command))
    assert code == 2, output
    assert "1 of the suite's runs cannot be read whole, so nothing was written" in output
    assert f"sac-pendulum: {Path('runs/sac-pendulum/seed-1/metrics.csv')} ends in a torn line" in (
        output
    )
    assert "git checkout -- runs/sac-pendulum/seed-1/metrics.csv" in output
    assert committed(project) == before
