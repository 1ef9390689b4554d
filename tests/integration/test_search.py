"""rlpipe search end to end: small PPO CartPole trials (about a thousand frames each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.errors import RlpipeError
from rlpipe.search.driver import SearchRequest, run_search
from rlpipe.search.overrides import read_overrides_file
from rlpipe.search.study import SearchOptions
from rlpipe.spec import resolve_spec
from tests.conftest import REPO

BIN = Path(sys.executable).parent
SPACE = """\
algorithm.lr: {type: log_float, low: 1e-4, high: 3e-3}
algorithm.num_epochs: {type: int, low: 2, high: 8}
"""
SMALL = ["max_frame=1024", "meta.log_interval=256"]


def rlpipe(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        ["rlpipe", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"rlpipe {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def search_args(space: Path, trials: int, *extra: str) -> list[str]:
    settings = [part for item in SMALL for part in ("-s", item)]
    return ["search", "ppo", "cartpole", "--space", str(space), "--trials", str(trials),
            *settings, "--pipelines", str(REPO / "pipelines"), *extra]  # fmt: skip


@pytest.fixture
def space(tmp_path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return path


def load(tmp_path: Path, name: str = "ppo-cartpole") -> optuna.Study:
    storage = f"sqlite:///{tmp_path / 'searches' / name / 'study.db'}"
    return optuna.load_study(study_name=name, storage=storage)


def test_four_trial_search_with_a_pruner_writes_report_plots_and_best_values(tmp_path, space):
    args = ["--pruner", "median", "--startup-trials", "1", "--seed", "3"]
    result = rlpipe(tmp_path, *search_args(space, 4, *args))
    folder = tmp_path / "searches" / "ppo-cartpole"
    study = load(tmp_path)
    states = [t.state.name for t in study.trials]
    assert len(states) == 4 and set(states) <= {"COMPLETE", "PRUNED"}, states
    assert "best: trial" in result.stdout

    report = (folder / "SEARCH.md").read_text()
    for trial in study.trials:
        assert f"\n| {trial.number} | " in report
    assert "| `algorithm.lr` | `algorithm.num_epochs` | value | state | frames | wall s |" in report
    for plot in ("plots/history.png", "plots/importance.png"):
        assert (folder / plot).read_bytes()[:4] == b"\x89PNG"
        assert f"]({plot})" in report

    # Each trial is an ordinary run folder; the best values reproduce the best trial's spec.
    best = study.best_trial
    run_dir = folder / f"trial-{best.number}"
    saved = json.loads((run_dir / "spec.json").read_text())
    assert saved["spec"]["algorithm"]["lr"] == best.params["algorithm.lr"]
    assert (run_dir / "provenance.json").is_file() and (run_dir / "summary.json").is_file()
    best_values = read_overrides_file(folder / "best.yaml")
    again = resolve_spec(
        "ppo", "cartpole", [*SMALL, *best_values, "meta.seeds=1"], REPO / "pipelines"
    )
    assert again.spec_hash == saved["spec_hash"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert best.value == pytest.approx(summary["score"])


def test_pruned_trial_is_stopped_early_and_recorded_as_pruned(tmp_path, space, monkeypatch):
    monkeypatch.chdir(tmp_path)
    request = SearchRequest(
        "ppo",
        "cartpole",
        space,
        ("max_frame=200000", "meta.log_interval=256"),
        pruner_override=optuna.pruners.ThresholdPruner(lower=1e9),  # prunes at the first value
    )
    options = SearchOptions("pruned", 1, pipelines=REPO / "pipelines", poll_s=0.2)
    outcome = run_search(request, options)
    trial = outcome.report.rows[0]
    assert trial.state == "PRUNED"
    run_dir = Path(trial.run_dir)
    assert not (run_dir / "summary.json").exists()  # stopped, not finished
    from rlpipe.rundir import read_rows

    frames = [row["frame"] for row in read_rows(run_dir / "seed-0" / "metrics.csv")]
    assert frames and max(frames) < 200_000 / 10
    assert "pruned" in (tmp_path / "searches" / "pruned" / "SEARCH.md").read_text()


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and "pytest" not in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_search_killed_after_its_first_trial_resumes_and_reruns_nothing_finished(tmp_path, space):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    args = search_args(space, 3, "--pruner", "none")
    args[args.index("max_frame=1024")] = "max_frame=2048"
    driver = subprocess.Popen(
        ["rlpipe", *args], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    folder = tmp_path / "searches" / "ppo-cartpole"
    deadline = time.monotonic() + 600
    while not ((folder / "trial-0" / "summary.json").exists() and (folder / "trial-1" / "spec.json").exists()):  # fmt: skip
        assert driver.poll() is None and time.monotonic() < deadline, "search ended early"
        time.sleep(0.1)
    driver.kill()
    driver.wait()
    # The running trial's `rlpipe train` dies with the search (parent-death signal).
    deadline = time.monotonic() + 120
    while _processes_mentioning(str(folder / "trial-1")):
        assert time.monotonic() < deadline, "the trial outlived its search"
        time.sleep(0.5)
    assert not (folder / "trial-1" / "summary.json").exists()
    first_run = (folder / "trial-0" / "provenance.json").read_text()

    result = rlpipe(tmp_path, *args, "--resume")
    assert "re-queued trials cut off by the last stop: [1]" in result.stdout
    assert (folder / "trial-0" / "provenance.json").read_text() == first_run  # not re-run
    trials = load(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1].user_attrs["interrupted"] is True
    assert trials[2].user_attrs["retry_of"] == 1
    assert trials[2].params == trials[1].params
    report = (folder / "SEARCH.md").read_text()
    assert "interrupted (search stopped); values re-queued" in report
    assert "re-run of trial 1" in report


def test_bad_space_fails_before_anything_trains(tmp_path, space):
    space.write_text("algorithm.lrr: {type: log_float, low: 1e-4, high: 3e-3}\n")
    result = CliRunner().invoke(
        app,
        ["search", "ppo", "cartpole", "--space", str(space), "--trials", "2",
         "--out", str(tmp_path / "searches"), "--pipelines", str(REPO / "pipelines")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"{space}, key algorithm.lrr = 0.0001:" in result.output
    assert "unknown key; did you mean 'lr'?" in result.output
    assert not (tmp_path / "searches").exists()


@pytest.mark.parametrize(
    "storage,message",
    [
        ("foo://bar", "unknown database 'foo'"),
        ("sqlite:////nonexistent/x.db", "the folder /nonexistent does not exist"),
        ("sqlite:///", "is an in-memory database: the search could not be resumed"),
        ("postgresql://rlpipe@127.0.0.1:1/db", "--storage postgresql://rlpipe@127.0.0.1:1/db: "),
        ("/nonexistent/dir/j.log", "the folder /nonexistent/dir does not exist"),
        ("OWN_FILE", "is a file but not an Optuna journal: it is left as it is"),
    ],
)
def test_a_storage_that_cannot_hold_the_search_is_a_clear_error(tmp_path, space, storage, message):
    own = tmp_path / "notes.txt"
    own.write_text("my notes\n")
    storage = str(own) if storage == "OWN_FILE" else storage
    result = CliRunner().invoke(
        app, [*search_args(space, 2, "--out", str(tmp_path / "searches")), "--storage", storage]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert own.read_text() == "my notes\n"


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--name", "x[/]"], "--name 'x[/]': a search name is a folder name"),
        (["--device", "gpu"], "--device gpu: expected auto, cpu, cuda or cuda:N"),
        (["-s", "env.id=CartPole-v9"], "CartPole-v9"),
        (["--out", "A_FILE"], "cannot make the search folder"),
    ],
    ids=["markup-name", "device", "env", "out-is-a-file"],
)
def test_search_input_that_every_trial_would_fail_on_stops_before_any_trial(
    tmp_path, space, extra, message
):
    own = tmp_path / "a-file"
    own.write_text("mine\n")
    extra = [str(own) if part == "A_FILE" else part for part in extra]
    out = [] if "--out" in extra else ["--out", str(tmp_path / "searches")]
    result = CliRunner().invoke(app, [*search_args(space, 2, *out), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "searches").exists() and own.read_text() == "mine\n"


@pytest.mark.parametrize(
    "content,message",
    [
        (b"algorithm.lr: {type: log_float, low: 1e-4, high: 3e-3}\n\xff\xfe\n",
         "the search space file is not UTF-8 text"),
        (b"algorithm.gamma: {type: float, low: 0.9, high: 0.99, step: 1e-300}\n",
         "more than 1,000,000 grid points"),
        (b'algorithm.gamma: {type: float, low: 0.9, high: 0.99}\n'
         b'"algorithm.gamma ": {type: float, low: 0.9, high: 0.99}\n',
         "a dotted spec key without spaces around it"),
    ],
)  # fmt: skip
def test_a_broken_space_file_is_a_clear_error(tmp_path, space, content, message):
    space.write_bytes(content)
    result = CliRunner().invoke(app, search_args(space, 2, "--out", str(tmp_path / "searches")))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_non_utf8_overrides_file_is_a_clear_error(tmp_path):
    overrides = tmp_path / "best.yaml"
    overrides.write_bytes(b"algorithm.lr: 1e-3\n\xff\n")
    result = CliRunner().invoke(
        app,
        ["train", "ppo", "cartpole", "--overrides", str(overrides), "--out", str(tmp_path / "r")],
    )
    assert result.exit_code == 2, result.output
    assert "the --overrides file is not UTF-8 text" in result.output


def test_train_overrides_file_errors_name_the_file_before_training(tmp_path):
    overrides = tmp_path / "best.yaml"
    overrides.write_text("algorithm.lrr: 0.001\n")
    result = CliRunner().invoke(
        app,
        ["train", "ppo", "cartpole", "--overrides", str(overrides),
         "--out", str(tmp_path / "run"), "--pipelines", str(REPO / "pipelines")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"--overrides {overrides}:" in result.output and "did you mean 'lr'?" in result.output
    assert not (tmp_path / "run").exists()


def test_a_nested_overrides_file_is_refused_showing_its_dotted_lines(tmp_path):
    overrides = tmp_path / "best.yaml"
    overrides.write_text("algorithm:\n  gamma: 0.9\n  critic: {hidden: [64, 64]}\n")
    result = CliRunner().invoke(
        app,
        ["train", "sac", "pendulum", "--overrides", str(overrides),
         "--out", str(tmp_path / "run"), "--pipelines", str(REPO / "pipelines")],
        terminal_width=300,
    )  # fmt: skip
    assert result.exit_code == 2
    assert (
        f"--overrides {overrides}: 'algorithm' holds a nested mapping; an overrides file names "
        "each setting by its dotted path, one per line: 'algorithm.gamma: 0.9'; "
        "'algorithm.critic.hidden: [64, 64]'" in " ".join(result.output.split())
    )
    assert not (tmp_path / "run").exists()


def test_a_search_counts_trials_other_processes_are_running(tmp_path, space, monkeypatch):
    # One trial finished; then another process (here: a trial asked for and left running)
    # works on the same study: `--resume --trials 3` runs one more, not two.
    args = search_args(space, 1, "--out", str(tmp_path / "searches"))
    assert CliRunner().invoke(app, args).exit_code == 0
    load(tmp_path).ask()  # a trial another search process is running
    result = CliRunner().invoke(
        app, [*search_args(space, 3, "--out", str(tmp_path / "searches")), "--resume"]
    )
    assert result.exit_code == 0, result.output
    states = [trial.state.name for trial in load(tmp_path).trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == 2 and "RUNNING" in states


def test_resume_refuses_a_spec_edited_since_the_search_started(tmp_path):
    from dataclasses import replace

    from rlpipe.search.study import SearchSettings, open_study

    settings = SearchSettings(
        family="ppo", spec="cartpole", space_file="space.yaml", space=SPACE, overrides=(),
        seeds=1, objective="score", pruner="none", startup_trials=5, warmup_frames=0, seed=0,
        max_frame=1024, log_interval=256, base_seed=0, spec_hash="a" * 64,
    )  # fmt: skip
    options = SearchOptions("s", 2, tmp_path / "searches")
    open_study(settings, options)
    resume = replace(options, resume=True)
    open_study(settings, resume)  # the same spec: resumes
    with pytest.raises(RlpipeError, match="the spec ppo/cartpole changed since search 's' started"):
        open_study(replace(settings, spec_hash="b" * 64), resume)
    older = tmp_path / "older"
    open_study(replace(settings, spec_hash=""), SearchOptions("s", 2, older))  # before the hash
    open_study(settings, SearchOptions("s", 2, older, resume=True))


def test_ctrl_c_stops_parallel_trials_at_once_and_marks_them_interrupted(tmp_path, space):
    import signal

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    args = search_args(space, 4, "--pruner", "none", "--parallel", "2")
    args[args.index("max_frame=1024")] = "max_frame=500000"  # far longer than the test waits
    driver = subprocess.Popen(
        ["rlpipe", *args], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    folder = tmp_path / "searches" / "ppo-cartpole"
    deadline = time.monotonic() + 300
    while not all((folder / f"trial-{k}" / "seed-0" / "metrics.csv").exists() for k in (0, 1)):
        assert driver.poll() is None and time.monotonic() < deadline, driver.stderr.read()
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    stopped = time.monotonic()
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stderr
    assert time.monotonic() - stopped < 60  # not after the trials' 500,000 frames
    assert "interrupted: finished trials are kept; continue with --resume" in stderr
    trials = load(tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]
    assert all(t.user_attrs.get("interrupted") is True for t in trials)
    deadline = time.monotonic() + 60
    while _processes_mentioning(str(folder / "trial-")):
        assert time.monotonic() < deadline, "a trial outlived the interrupted search"
        time.sleep(0.5)
