"""Damaged, hostile and concurrent run folders: clear errors from every command, nothing run.

The tiny runs here train PPO on CartPole for a few hundred frames (seconds), or are made from
made-up numbers by tests/fixtures.py when no training is needed.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.errors import RlpipeError
from rlpipe.rundir import atomic_torch_save, read_rows
from rlpipe.rundir.lock import lock_path
from tests.fixtures import make_run, make_suite_file

TINY_PPO = [
    "max_frame=512",
    "seeds=2",
    "env.num_envs=2",
    "algorithm.num_steps=64",
    "algorithm.batch_size=64",
    "meta.log_interval=128",
    "meta.eval_interval=256",
    "meta.eval_episodes=2",
    "meta.checkpoint_interval=256",
]


class WritesMarker:
    """A pickle payload: unpickling it (were it allowed) creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI in-process; exit code and everything it printed."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def train_tiny(pipelines_dir: Path, out: Path, *extra: str) -> tuple[int, str]:
    overrides = [x for o in TINY_PPO for x in ("-s", o)]
    return cli("train", "ppo", "cartpole", *overrides, "--out", out, "--device", "cpu",
               "--workers", "1", "--quiet", "--pipelines", pipelines_dir, *extra)  # fmt: skip


@pytest.fixture
def tiny_run(pipelines_dir, tmp_path) -> Path:
    """A finished 2-seed PPO CartPole run with checkpoints."""
    run_dir = tmp_path / "run"
    code, output = train_tiny(pipelines_dir, run_dir)
    assert code == 0, output
    return run_dir


def test_crafted_checkpoint_is_refused_and_never_executed(pipelines_dir, tiny_run, tmp_path):
    marker = tmp_path / "pwned"
    checkpoint = tiny_run / "seed-1" / "checkpoint" / "state.pt"
    torch.save({"agent": WritesMarker(marker)}, checkpoint)
    (tiny_run / "seed-1" / "result.json").unlink()  # as if seed 1 was interrupted
    code, output = train_tiny(pipelines_dir, tiny_run, "--resume")
    assert code == 2
    assert "cannot be loaded safely" in output and "state.pt" in output
    assert "--resume --restart-seed 1" in output
    assert not marker.exists()

    code, output = train_tiny(pipelines_dir, tiny_run, "--resume", "--restart-seed", "1")
    assert code == 0, output
    assert not marker.exists()
    frames = [int(row["frame"]) for row in read_rows(tiny_run / "seed-1" / "metrics.csv")]
    assert frames[-1] == 512 and frames == sorted(set(frames))


def test_damaged_result_json_on_resume_names_the_file_and_the_way_out(pipelines_dir, tiny_run):
    (tiny_run / "seed-0" / "result.json").write_text('{"seed": 0, "return_ma": 12.')
    code, output = train_tiny(pipelines_dir, tiny_run, "--resume")
    assert code == 2
    assert "seed-0/result.json is damaged" in output
    assert "--restart-seed 0" in output and "Traceback" not in output


def test_truncated_checkpoint_is_a_clear_error(pipelines_dir, tiny_run):
    checkpoint = tiny_run / "seed-0" / "checkpoint" / "state.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    (tiny_run / "seed-0" / "result.json").unlink()
    code, output = train_tiny(pipelines_dir, tiny_run, "--resume")
    assert code == 2 and "state.pt is damaged" in output and "Traceback" not in output


def test_restart_seed_needs_resume_and_a_seed_of_the_run(pipelines_dir, tiny_run):
    code, output = train_tiny(pipelines_dir, tiny_run, "--overwrite", "--restart-seed", "0")
    assert code == 2 and "--restart-seed retrains seeds of an existing run" in output
    code, output = train_tiny(pipelines_dir, tiny_run, "--resume", "--restart-seed", "7")
    assert code == 2 and "not a seed of this run" in output


def test_eval_of_corrupt_weights_is_refused_without_suggesting_unsafe_loading(tiny_run):
    (tiny_run / "seed-0" / "model.pt").write_bytes(b"not a torch file at all")
    code, output = cli("eval", tiny_run)
    assert code == 2 and "seed-0/model.pt is damaged" in output
    assert "weights_only=False" not in output and "Traceback" not in output


def test_eval_of_nan_weights_is_refused_naming_the_file(tiny_run):
    model = tiny_run / "seed-1" / "model.pt"
    weights = torch.load(model, weights_only=True)
    first = next(key for key, value in weights["net"].items() if value.is_floating_point())
    weights["net"][first] = torch.full_like(weights["net"][first], float("nan"))
    torch.save(weights, model)
    code, output = cli("eval", tiny_run)
    assert code == 2 and "seed-1/model.pt holds NaN or infinite weights" in output
    assert not (tiny_run / "eval.json").exists()


def test_eval_of_pickled_code_in_weights_runs_nothing(tiny_run, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"net": WritesMarker(marker)}, tiny_run / "seed-0" / "model.pt")
    code, output = cli("eval", tiny_run)
    assert code == 2 and "cannot be loaded safely" in output
    assert not marker.exists()


def test_eval_without_a_spec_or_with_a_tampered_spec_is_clear(tiny_run, tmp_path):
    code, output = cli("eval", tmp_path / "nothing-here")
    assert code == 2 and "is not a run folder" in output
    saved = json.loads((tiny_run / "spec.json").read_text())
    saved["spec"]["algorithm"]["lr"] = 0.5
    (tiny_run / "spec.json").write_text(json.dumps(saved))
    code, output = cli("eval", tiny_run)
    assert code == 2 and "does not hash to its spec_hash" in output


# ---------------------------------------------------------------- damaged files, every command


@pytest.fixture
def fixture_project(tmp_path, monkeypatch) -> Path:
    """A project folder with a suite, a finished fixture run and its report; the working
    directory."""
    make_suite_file(tmp_path / "params" / "suite.yaml", runs=[("sac", "pendulum", 1000)])
    make_run(tmp_path / "runs", "sac-pendulum", "sac", "pendulum", "Pendulum-v1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipelines").mkdir()
    assert cli("plot")[0] == 0 and cli("report")[0] == 0
    return tmp_path


SUMMARY_DAMAGES = [
    pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
    pytest.param(lambda text: text.replace('"frames": 1000', '"frames": "many"'), id="types"),
]


@pytest.mark.parametrize("damage", SUMMARY_DAMAGES)
@pytest.mark.parametrize("command", ["plot", "report"])  # publish: tests/integration/test_hub.py
def test_a_damaged_summary_is_the_same_clear_error_from_every_command(
    fixture_project, damage, command
):
    summary = fixture_project / "runs" / "sac-pendulum" / "summary.json"
    summary.write_text(damage(summary.read_text()))
    code, output = cli(command)
    assert code == 2, output
    assert "runs/sac-pendulum/summary.json is damaged" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("damage", SUMMARY_DAMAGES)
def test_a_damaged_summary_is_a_damaged_run_finding_of_the_audit_not_its_end(
    fixture_project, damage
):
    summary = fixture_project / "runs" / "sac-pendulum" / "summary.json"
    summary.write_text(damage(summary.read_text()))
    code, output = cli("audit", "--json")
    assert code == 1, output
    (finding,) = json.loads(output)["findings"]
    assert (finding["check"], finding["row"]) == ("damaged-run", "sac-pendulum")
    assert finding["message"].startswith("runs/sac-pendulum/summary.json is damaged")
    assert "git checkout -- runs/sac-pendulum/summary.json" in finding["message"]


# ---------------------------------------------------------------- one writer, bad folders


def test_a_second_writer_is_refused_while_a_run_trains(pipelines_dir, tmp_path):
    run_dir = tmp_path / "run"
    overrides = [x for o in [*TINY_PPO, "max_frame=2e5", "seeds=1"] for x in ("-s", o)]
    command = [sys.executable, "-m", "rlpipe", "train", "ppo", "cartpole", *overrides,
               "--out", str(run_dir), "--device", "cpu", "--quiet",
               "--pipelines", str(pipelines_dir)]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        metrics = run_dir / "seed-0" / "metrics.csv"
        while not (metrics.exists() and read_rows(metrics)):
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.05)
        before = (run_dir / "spec.json").read_text()
        second = subprocess.run(
            [*command, "--overwrite", "-s", "algorithm.lr=5e-5"], capture_output=True, text=True
        )
        assert second.returncode == 2
        assert f"is being written by rlpipe train (pid {first.pid}" in second.stderr
        assert (run_dir / "spec.json").read_text() == before
    finally:
        first.kill()
        first.wait()


def test_a_lock_left_by_a_killed_run_is_not_in_the_way(pipelines_dir, tmp_path):
    run_dir = tmp_path / "run"
    lock_path(run_dir).write_text("rlpipe train (pid 999999 on elsewhere)")
    code, output = train_tiny(pipelines_dir, run_dir)
    assert code == 0, output
    assert not lock_path(run_dir).exists()


def test_out_that_is_a_file_or_under_one_is_refused_before_training(pipelines_dir, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    for out in (a_file, a_file / "run"):
        code, output = train_tiny(pipelines_dir, out)
        assert code == 2 and "is a file, not a folder" in output, output
    assert a_file.read_text() == "keep me"


def test_unwritable_out_and_artifacts_are_refused_before_training(pipelines_dir, tmp_path):
    code, output = train_tiny(pipelines_dir, Path("/proc/rlpipe-run"))
    assert code == 2 and "cannot be written" in output and "Traceback" not in output
    a_file = tmp_path / "weights"
    a_file.write_text("")
    code, output = train_tiny(pipelines_dir, tmp_path / "run", "--artifacts", a_file)
    assert code == 2 and "--artifacts" in output and "is a file, not a folder" in output
    assert not (tmp_path / "run").exists()


def test_a_run_that_fails_to_start_leaves_nothing_behind(pipelines_dir, tmp_path, monkeypatch):
    def no_env(*args, **kwargs):
        raise RlpipeError("CartPole-v1 needs a package that is not installed")

    monkeypatch.setattr("rlpipe.loops.session.make_vec_env", no_env)
    code, output = train_tiny(pipelines_dir, tmp_path / "run")
    assert code == 2 and "needs a package" in output
    assert not (tmp_path / "run").exists()
    monkeypatch.undo()
    code, output = train_tiny(pipelines_dir, tmp_path / "run")  # no --overwrite needed
    assert code == 0, output


class FullDisk:
    """A file that takes the first few bytes, then fails like a full disk."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stream.close()


def test_a_full_disk_during_a_checkpoint_save_says_so(tmp_path, monkeypatch):
    target = tmp_path / "state.pt"
    atomic_torch_save({"w": torch.zeros(3)}, target)
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        "rlpipe.rundir.atomic.os.fdopen", lambda *a, **k: FullDisk(real_fdopen(*a, **k))
    )
    with pytest.raises(RlpipeError, match="No space left on device") as info:
        atomic_torch_save({"w": torch.zeros(1_000_000)}, target)
    assert "inline_container" not in str(info.value)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True)["w"].shape == (3,)
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_nan_before_any_checkpoint_does_not_name_one(pipelines_dir, tmp_path, monkeypatch):
    from rlpipe.algos.ppo import PPO

    real_update = PPO.update

    def poisoned(self, *args):
        stats = real_update(self, *args)
        stats["loss_critic"] = stats["loss_critic"] * float("nan")
        return stats

    monkeypatch.setattr(PPO, "update", poisoned)
    code, output = train_tiny(pipelines_dir, tmp_path / "run", "-s", "seeds=1")
    assert code == 2
    assert "loss_critic became nan between frames 0 and 128" in output
    assert "No checkpoint was written before it" in output and "state.pt" not in output
