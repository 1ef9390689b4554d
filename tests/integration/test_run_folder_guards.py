"""A run's folders are its own: --out and --overwrite never take or delete what a run did not
write, and --resume never quietly starts a run over."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.errors import RlpipeError
from rlpipe.launch import TrainOptions, train_run
from rlpipe.rundir import read_rows
from tests.integration.test_train import FAST, fast_spec


def test_overwrite_refuses_a_run_folder_that_holds_more_than_the_run(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, frames=200)
    run_dir, _ = train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "run"))
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / "crossq-hopper" / "seed-0").mkdir(parents=True)
    with pytest.raises(RlpipeError) as refused:
        train_run(resolved, TrainOptions(device="cpu", out=run_dir, overwrite=True))
    message = str(refused.value)
    assert "--overwrite deletes a run's files" in message and "Nothing was deleted" in message
    assert str(run_dir / "crossq-hopper") in message and str(run_dir / "notes.txt") in message
    assert (run_dir / "notes.txt").read_text() == "mine"
    assert (run_dir / "crossq-hopper" / "seed-0").is_dir()
    assert (run_dir / "seed-0" / "model.pt").is_file() and (run_dir / "summary.json").is_file()


def test_overwrite_refuses_an_artifacts_folder_shared_with_other_runs(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, frames=200)
    arts = tmp_path / "arts"
    options = TrainOptions(device="cpu", out=tmp_path / "run", artifacts=arts)
    train_run(resolved, options)
    other_weights = arts / "crossq-hopper" / "seed-0" / "model.pt"
    other_weights.parent.mkdir(parents=True)
    other_weights.write_bytes(b"weights of another run")
    overwrite = TrainOptions(device="cpu", out=tmp_path / "run", artifacts=arts, overwrite=True)
    with pytest.raises(RlpipeError, match=r"holds more: .*crossq-hopper is not part of a run"):
        train_run(resolved, overwrite)
    assert other_weights.read_bytes() == b"weights of another run"
    assert (arts / "seed-0" / "model.pt").is_file()


def test_overwrite_deletes_the_run_and_keeps_hidden_files(pipelines_dir, tmp_path):
    first = fast_spec(pipelines_dir, frames=200, extra=["seeds=2"])
    run_dir, _ = train_run(first, TrainOptions(device="cpu", out=tmp_path / "run"))
    (run_dir / ".gitignore").write_text("/seed-*/model.pt\n")
    second = fast_spec(pipelines_dir, frames=300)
    train_run(second, TrainOptions(device="cpu", out=run_dir, overwrite=True))
    assert not (run_dir / "seed-1").exists()  # the first run's second seed is gone
    assert [int(row["frame"]) for row in read_rows(run_dir / "seed-0" / "metrics.csv")][-1] == 300
    assert (run_dir / ".gitignore").read_text() == "/seed-*/model.pt\n"


def test_a_new_run_is_refused_in_a_folder_that_holds_other_files(pipelines_dir, tmp_path):
    runs = tmp_path / "runs"
    (runs / "crossq-hopper").mkdir(parents=True)
    for overwrite in (False, True):
        options = TrainOptions(device="cpu", out=runs, overwrite=overwrite)
        with pytest.raises(RlpipeError, match=r"--out .*runs already holds files: .*crossq-hopper"):
            train_run(fast_spec(pipelines_dir, frames=200), options)
    assert sorted(path.name for path in runs.iterdir()) == ["crossq-hopper"]
    options = TrainOptions(device="cpu", out=tmp_path / "run", artifacts=runs)
    with pytest.raises(RlpipeError, match=r"--artifacts .*runs already holds files"):
        train_run(fast_spec(pipelines_dir, frames=200), options)
    assert not (tmp_path / "run").exists()


def test_resume_of_a_folder_without_a_run_is_refused(pipelines_dir, tmp_path):
    options = TrainOptions(device="cpu", out=tmp_path / "typo", resume=True)
    with pytest.raises(RlpipeError, match=r"--resume: nothing to resume in .*typo \(no spec.json"):
        train_run(fast_spec(pipelines_dir, frames=200), options)
    assert not (tmp_path / "typo").exists()


def test_resume_that_cannot_find_the_checkpoints_refuses_to_start_over(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, frames=1000)  # checkpoints every 300 frames
    arts = tmp_path / "arts"
    paused = TrainOptions(device="cpu", out=tmp_path / "run", artifacts=arts, until_frame=700)
    run_dir, summary = train_run(resolved, paused)
    assert summary is None
    metrics = run_dir / "seed-0" / "metrics.csv"
    logged = metrics.read_bytes()
    forgotten = TrainOptions(device="cpu", out=run_dir, resume=True)  # --artifacts left out
    with pytest.raises(RlpipeError) as refused:
        train_run(resolved, forgotten)
    message = str(refused.value)
    assert "cannot resume seed 0" in message and "reaches frame 700" in message
    assert "resume with the same --artifacts" in message and "--restart-seed 0" in message
    assert metrics.read_bytes() == logged  # no row lost
    resumed = TrainOptions(device="cpu", out=run_dir, artifacts=arts, resume=True)
    _, summary = train_run(resolved, resumed)
    assert summary is not None and summary.frames == 1000
    assert [int(row["frame"]) for row in read_rows(metrics)] == list(range(100, 1001, 100))


def test_a_seed_group_of_another_spec_is_refused_before_it_trains(pipelines_dir, tmp_path):
    first = fast_spec(pipelines_dir, frames=200, extra=["seeds=2"])
    train_run(first, TrainOptions(device="cpu", out=tmp_path / "run", only_seeds=(0,)))
    other = fast_spec(pipelines_dir, frames=200, extra=["seeds=2", "algorithm.gamma=0.9"])
    options = TrainOptions(device="cpu", out=tmp_path / "run", only_seeds=(1,))
    with pytest.raises(RlpipeError, match=r"holds seeds \[0\] trained from spec hash"):
        train_run(other, options)
    assert not (tmp_path / "run" / "seed-1").exists()
    assert not (tmp_path / "run" / "groups" / "seeds-1.json").exists()
    train_run(first, options)  # the group of the same spec trains
    assert (tmp_path / "run" / "groups" / "seeds-1.json").is_file()


def test_an_interrupted_train_prints_the_command_that_resumes_it(pipelines_dir, tmp_path):
    run_dir, arts = tmp_path / "my run", tmp_path / "arts"
    # SAC: no torch.compile on CPU, so the interrupt never waits for a compile to end
    settings = [x for o in [*FAST, "max_frame=1e5"] for x in ("-s", o)]  # far from done
    command = ["train", "sac", "pendulum", *settings, "--out", str(run_dir), "--artifacts",
               str(arts), "--device", "cpu", "--pipelines", str(pipelines_dir)]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "rlpipe", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    metrics = run_dir / "seed-0" / "metrics.csv"
    deadline = time.monotonic() + 240
    while not (metrics.exists() and read_rows(metrics)):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    printed = process.stderr.read().decode()
    assert "interrupted: checkpoints are kept; continue with: rlpipe train sac pendulum" in printed
    again = shlex.split(printed.split("continue with: ", 1)[1].splitlines()[0])
    resume = ["train", "sac", "pendulum", *settings, "--device", "cpu", "--out", str(run_dir),
              "--artifacts", str(arts), "--pipelines", str(pipelines_dir), "--resume"]  # fmt: skip
    assert again == ["rlpipe", *resume]  # the folder with a space is one word


def test_a_run_that_makes_no_update_is_warned_before_it_trains(pipelines_dir, tmp_path):
    def train(frames, out):
        args = ["train", "sac", "pendulum", *[x for o in FAST for x in ("-s", o)], "-s",
                f"max_frame={frames}", "--out", str(tmp_path / out), "--device", "cpu",
                "--pipelines", str(pipelines_dir)]  # fmt: skip
        result = CliRunner().invoke(app, args, terminal_width=200)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert (  # learning_starts is 200 in FAST
        "warning: learning_starts (200) is not below max_frame (150): this run makes no gradient "
        "update, and its score is that of its random actions" in train(150, "random")
    )
    assert "warning" not in train(300, "learns")


def test_settings_given_twice_are_warned_naming_the_value_used(pipelines_dir, tmp_path):
    args = ["train", "sac", "pendulum", *[x for o in FAST for x in ("-s", o)], "-s",
            "max_frame=300", "-s", "max_frame=400", "-s", "meta.seeds=3", "--seeds", "1",
            "--out", str(tmp_path / "run"), "--device", "cpu",
            "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "warning: -s max_frame is given 2 times (300, 400): the last, 400, is used" in output
    assert "warning: --seeds 1 and -s meta.seeds=3: --seeds is used" in output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["seeds"] == [0]


def test_a_tilde_the_shell_left_in_out_is_the_home_folder(pipelines_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    args = ["train", "sac", "pendulum", *[x for o in FAST for x in ("-s", o)], "-s",
            "max_frame=300", "--out", "~/run", "--device", "cpu",
            "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=300)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "run" / "summary.json").is_file()
    assert not (tmp_path / "~").exists()


def test_resume_of_a_run_paused_before_its_first_interval_checkpoint_needs_its_artifacts(
    pipelines_dir, tmp_path
):
    resolved = fast_spec(pipelines_dir, frames=1000)  # checkpoints every 300 frames
    arts = tmp_path / "arts"
    paused = TrainOptions(device="cpu", out=tmp_path / "run", artifacts=arts, until_frame=200)
    run_dir, _ = train_run(resolved, paused)  # its one checkpoint: the pause's, at frame 200
    forgotten = TrainOptions(device="cpu", out=run_dir, resume=True)
    with pytest.raises(RlpipeError, match="reaches frame 200, so it wrote a checkpoint"):
        train_run(resolved, forgotten)
    assert [int(row["frame"]) for row in read_rows(run_dir / "seed-0" / "metrics.csv")] == [
        100,
        200,
    ]


def test_resume_from_into_a_folder_of_other_files_is_refused(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, frames=1000)
    paused = TrainOptions(device="cpu", out=tmp_path / "part-1", until_frame=200)
    train_run(resolved, paused)
    runs = tmp_path / "runs"
    (runs / "crossq-hopper").mkdir(parents=True)
    options = TrainOptions(device="cpu", out=runs, resume_from=tmp_path / "part-1")
    with pytest.raises(RlpipeError, match=r"--out .*runs already holds files: .*crossq-hopper"):
        train_run(resolved, options)
    assert sorted(path.name for path in runs.iterdir()) == ["crossq-hopper"]


def test_a_readme_of_the_users_is_not_a_runs_card(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, frames=200)
    run_dir, _ = train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "run"))
    (run_dir / "README.md").write_text("# my notes on this run\n")
    with pytest.raises(RlpipeError, match=r"README.md is not part of a run"):
        train_run(resolved, TrainOptions(device="cpu", out=run_dir, overwrite=True))
    (run_dir / "README.md").write_text("---\nlibrary_name: rlpipe\n---\n# a pulled run's card\n")
    train_run(resolved, TrainOptions(device="cpu", out=run_dir, overwrite=True))
    assert not (run_dir / "README.md").exists()  # the card of the run it replaced


def test_an_unknown_users_home_in_out_is_a_clear_error(pipelines_dir, tmp_path):
    args = ["train", "sac", "pendulum", "--out", "~no_such_user_rlpipe/run",
            "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=300)
    assert result.exit_code == 2
    assert "--out ~no_such_user_rlpipe/run: no home folder for ~no_such_user_rlpipe" in (
        result.output
    )


def test_the_interrupt_message_names_every_option_that_shapes_the_resumed_run(tmp_path):
    from rlpipe.commands.train import interrupted_message

    out = tmp_path / "run"
    options = TrainOptions(device="cpu", out=out, workers=2, compile=False,
                           tensorboard=tmp_path / "tb", wandb=tmp_path / "wb",
                           wandb_project="mine")  # fmt: skip
    not_started = interrupted_message("sac", "pendulum", ["max_frame=300"], options, Path("p"))
    assert not_started == f"interrupted before the run started in {out}: nothing to resume"
    out.mkdir()
    (out / "spec.json").write_text("{}")
    message = interrupted_message("sac", "pendulum", ["max_frame=300"], options, Path("p"))
    command = shlex.split(message.split("continue with: ", 1)[1])
    assert command == [
        "rlpipe", "train", "sac", "pendulum", "-s", "max_frame=300", "--workers", "2",
        "--device", "cpu", "--out", str(out), "--pipelines", "p", "--no-compile",
        "--tensorboard", str(tmp_path / "tb"), "--wandb", str(tmp_path / "wb"),
        "--wandb-project", "mine", "--resume",
    ]  # fmt: skip


def test_seeds_beside_an_overrides_files_seeds_is_warned(pipelines_dir, tmp_path):
    best = tmp_path / "best.yaml"
    best.write_text("meta.seeds: 3\n")
    args = ["train", "sac", "pendulum", "--overrides", str(best),
            *[x for o in FAST[:-1] for x in ("-s", o)], "-s", "max_frame=300", "--seeds", "1",
            "--out", str(tmp_path / "run"), "--device", "cpu",
            "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "warning: --seeds 1 and the --overrides file's meta.seeds: 3: --seeds is used" in (
        " ".join(result.output.split())
    )
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["seeds"] == [0]
