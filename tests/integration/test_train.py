"""Training end to end on CPU: run folder, reproducibility, resume after SIGKILL, guards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from rlpipe.algos.sac import SAC
from rlpipe.cli import app
from rlpipe.errors import RlpipeError
from rlpipe.launch import TrainOptions, train_run
from rlpipe.loops.seedloop import NonFiniteLoss
from rlpipe.rundir import WALL_CLOCK_COLUMNS, read_rows
from rlpipe.spec import resolve_spec
from tests.training import train_one_seed

# Small and fast: 64-wide nets, 1000 frames, updates from frame 200.
FAST = [
    "algorithm.actor.hidden=[32, 32]",
    "algorithm.critic.hidden=[64, 64]",
    "algorithm.batch_size=32",
    "algorithm.learning_starts=200",
    "meta.log_interval=100",
    "meta.eval_interval=500",
    "meta.eval_episodes=2",
    "meta.checkpoint_interval=300",
    "seeds=1",
]


def fast_spec(pipelines_dir, family="crossq", name="pendulum", frames=1000, extra=()):
    return resolve_spec(family, name, [*FAST, f"max_frame={frames}", *extra], pipelines_dir)


def without_wall_clock(rows):
    return [{k: v for k, v in row.items() if k not in WALL_CLOCK_COLUMNS} for row in rows]


def test_train_writes_the_run_folder(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, extra=["seeds=2"])
    run_dir, summary = train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "run"))
    spec_file = json.loads((run_dir / "spec.json").read_text())
    assert spec_file["spec_hash"] == resolved.spec_hash
    assert spec_file["spec"]["env"]["id"] == "Pendulum-v1"
    prov = json.loads((run_dir / "provenance.json").read_text())
    for key in ("git_commit", "git_dirty", "torch", "gymnasium", "cpu_model", "device",
                "started_at", "finished_at", "spec_hash"):  # fmt: skip
        assert key in prov
    assert prov["device"] == "cpu" and prov["spec_hash"] == resolved.spec_hash
    for seed in (0, 1):
        rows = read_rows(run_dir / f"seed-{seed}" / "metrics.csv")
        assert [int(r["frame"]) for r in rows] == list(range(100, 1001, 100))
        assert rows[-1]["eval_return"] is not None and rows[-1]["loss_critic"] is not None
        assert (run_dir / f"seed-{seed}" / "model.pt").stat().st_size > 0
        assert not (run_dir / f"seed-{seed}" / "model.pt.tmp").exists()
    summary = summary.model_dump(mode="json")
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == summary
    per_seed = [s["return_ma"] for s in summary["per_seed"]]
    assert summary["score"] == pytest.approx(sum(per_seed) / 2)
    assert summary["score_ci95"][0] <= summary["score"] <= summary["score_ci95"][1]
    assert summary["frames"] == 1000 and summary["seeds"] == [0, 1]
    # One critic update per frame after the 200 random frames, counted by the agent.
    assert [s["updates"] for s in summary["per_seed"]] == [800, 800]


def test_same_spec_and_seed_give_identical_metrics(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, family="sac", frames=600)
    rows = []
    for name in ("a", "b"):
        run_dir, _ = train_run(resolved, TrainOptions(device="cpu", out=tmp_path / name))
        rows.append(without_wall_clock(read_rows(run_dir / "seed-0" / "metrics.csv")))
    assert rows[0] == rows[1]
    assert len(rows[0]) == 6 and rows[0][-1]["loss_actor"] is not None


def test_existing_run_is_not_overwritten_without_resume(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, frames=200)
    train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "run"))
    with pytest.raises(RlpipeError, match=r"already holds a run; continue it with --resume"):
        train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "run"))


def test_overwrite_through_a_symlink_is_refused_naming_its_target(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir)
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    options = TrainOptions(device="cpu", out=tmp_path / "alias", overwrite=True)
    with pytest.raises(RlpipeError, match="is a symlink: --overwrite replaces folders"):
        train_run(resolved, options)
    assert (tmp_path / "alias").is_symlink() and (tmp_path / "real").is_dir()


def test_resume_with_a_different_spec_is_refused(pipelines_dir, tmp_path):
    train_run(fast_spec(pipelines_dir, frames=200), TrainOptions(device="cpu", out=tmp_path / "r"))
    changed = fast_spec(pipelines_dir, frames=300)
    with pytest.raises(RlpipeError, match=r"cannot resume .* spec hash"):
        train_run(changed, TrainOptions(device="cpu", out=tmp_path / "r", resume=True))


def test_resume_after_sigkill_loses_and_duplicates_no_row(pipelines_dir, tmp_path):
    run_dir = tmp_path / "run"
    overrides = [
        x for o in [*FAST, "max_frame=2400", "meta.checkpoint_interval=600"] for x in ("-s", o)
    ]
    command = [sys.executable, "-m", "rlpipe", "train", "crossq", "pendulum", *overrides,
               "--out", str(run_dir), "--device", "cpu", "--pipelines", str(pipelines_dir)]  # fmt: skip
    metrics = run_dir / "seed-0" / "metrics.csv"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        if metrics.exists() and len(read_rows(metrics)) >= 9:  # past the checkpoint at 600
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = len(read_rows(metrics))
    assert 9 <= killed_at < 24, "the run must be killed mid-way"
    assert (run_dir / "seed-0" / "checkpoint" / "state.pt").exists()
    assert not (run_dir / "summary.json").exists()

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    frames = [int(r["frame"]) for r in read_rows(metrics)]
    assert frames == list(range(100, 2401, 100))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["frames"] == 2400
    assert json.loads((run_dir / "provenance.json").read_text())["resumes"] == 1


def test_sigterm_stops_parallel_seed_workers_and_keeps_checkpoints(pipelines_dir, tmp_path):
    psutil = pytest.importorskip("psutil")
    run_dir = tmp_path / "run"
    overrides = [x for o in [*FAST, "max_frame=1e5", "seeds=2"] for x in ("-s", o)]
    command = [sys.executable, "-m", "rlpipe", "train", "crossq", "pendulum", *overrides,
               "--out", str(run_dir), "--device", "cpu", "--workers", "2", "--quiet",
               "--pipelines", str(pipelines_dir)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    metrics = [run_dir / f"seed-{k}" / "metrics.csv" for k in (0, 1)]
    while not all(m.exists() and read_rows(m) for m in metrics):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    workers = psutil.Process(process.pid).children(recursive=True)
    assert len(workers) >= 2
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert "interrupted: checkpoints are kept" in process.stderr.read().decode()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []


def test_nan_loss_stops_the_run_naming_loss_and_frame(pipelines_dir, tmp_path, monkeypatch):
    real_update = SAC.update

    def poisoned(self, batch):
        stats = real_update(self, batch)
        if self.updates > 500:
            stats["loss_critic"] = stats["loss_critic"] * float("nan")
        return stats

    monkeypatch.setattr(SAC, "update", poisoned)
    spec = fast_spec(pipelines_dir, frames=1500).spec
    seed_dir = tmp_path / "seed-0"
    with pytest.raises(NonFiniteLoss) as info:
        train_one_seed(spec, tmp_path)
    message = str(info.value)
    assert "loss_critic became nan between frames 700 and 800" in message
    assert "last good checkpoint (frame 600)" in message
    saved = torch.load(seed_dir / "checkpoint" / "state.pt", weights_only=True)
    assert saved["loop"]["frame"] == 600
    assert not (seed_dir / "model.pt").exists()
    assert [int(r["frame"]) for r in read_rows(seed_dir / "metrics.csv")][-1] == 700


def test_cli_train_prints_summary_and_refuses_unknown_device(pipelines_dir, tmp_path):
    runner = CliRunner()
    args = ["train", "sac", "pendulum", *[x for o in FAST for x in ("-s", o)],
            "-s", "max_frame=300", "--out", str(tmp_path / "run"),
            "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = runner.invoke(app, [*args, "--device", "tpu"])
    assert result.exit_code == 2 and "--device tpu: expected auto, cpu, cuda" in result.output
    result = runner.invoke(app, [*args, "--device", "cpu"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "score = final training-return moving average" in " ".join(result.output.split())
    assert (tmp_path / "run" / "summary.json").exists()


def test_a_run_chained_over_stages_pauses_resumes_elsewhere_and_loses_no_row(
    pipelines_dir, tmp_path
):
    resolved = fast_spec(pipelines_dir, family="sac", frames=900, extra=["seeds=2"])
    whole, _ = train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "whole"))
    first, paused = train_run(
        resolved, TrainOptions(device="cpu", out=tmp_path / "part-1", until_frame=400)
    )
    assert paused is None and not (first / "summary.json").exists()
    assert json.loads((first / "provenance.json").read_text())["paused_at"] == 400
    for seed in (0, 1):
        assert (first / f"seed-{seed}" / "checkpoint" / "state.pt").is_file()
        assert not (first / f"seed-{seed}" / "model.pt").exists()
    options = TrainOptions(device="cpu", out=tmp_path / "run", artifacts=tmp_path / "weights",
                           resume_from=first)  # fmt: skip
    run_dir, summary = train_run(resolved, options)
    assert summary is not None and summary.frames == 900
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["resumes"] == 1 and "paused_at" not in prov
    for seed in (0, 1):
        rows = without_wall_clock(read_rows(run_dir / f"seed-{seed}" / "metrics.csv"))
        reference = without_wall_clock(read_rows(whole / f"seed-{seed}" / "metrics.csv"))
        assert [int(r["frame"]) for r in rows] == list(range(100, 901, 100))
        assert rows[:4] == reference[:4]  # identical up to the pause; episodes restart after it
        assert (tmp_path / "weights" / f"seed-{seed}" / "model.pt").is_file()
    assert (first / "seed-0" / "checkpoint" / "state.pt").is_file()  # the paused part is kept


def test_resume_from_refuses_a_folder_without_a_paused_run_and_an_occupied_out(
    pipelines_dir, tmp_path
):
    resolved = fast_spec(pipelines_dir, family="sac", frames=600)
    with pytest.raises(RlpipeError, match="no paused run there"):
        train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "b",
                                         resume_from=tmp_path / "nothing"))  # fmt: skip
    train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "a", until_frame=300))
    train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "b", until_frame=200))
    with pytest.raises(RlpipeError, match="already holds this run; replace it with --overwrite"):
        train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "b",
                                         resume_from=tmp_path / "a"))  # fmt: skip
    with pytest.raises(RlpipeError, match="--until-frame 600: must be between 0"):
        train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "c", until_frame=600))


def test_a_bf16_run_trains_from_the_cli_and_records_its_precision(pipelines_dir, tmp_path):
    args = ["train", "crossq", "pendulum", *[x for o in FAST for x in ("-s", o)],
            "-s", "max_frame=400", "-s", "algorithm.precision=bf16", "--device", "cpu",
            "--out", str(tmp_path / "run"), "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "run" / "spec.json").read_text())
    assert spec["spec"]["algorithm"]["precision"] == "bf16"
    assert spec["spec_hash"] != fast_spec(pipelines_dir, frames=400).spec_hash
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["cpu_bf16"] in {"native", "emulated"}
    rows = read_rows(tmp_path / "run" / "seed-0" / "metrics.csv")
    assert rows[-1]["loss_critic"] is not None and rows[-1]["eval_return"] is not None


def test_profile_writes_a_trace_into_the_run_folder(pipelines_dir, tmp_path):
    resolved = fast_spec(pipelines_dir, frames=800)
    run_dir, _ = train_run(resolved, TrainOptions(device="cpu", out=tmp_path / "r", profile=True))
    trace = json.loads((run_dir / "seed-0" / "profile.json").read_text())
    names = {event.get("name", "") for event in trace["traceEvents"]}
    assert any("addmm" in name or "linear" in name for name in names)


def test_a_device_argument_is_echoed_as_typed(pipelines_dir, tmp_path):
    result = CliRunner().invoke(
        app, ["train", "crossq", "pendulum", "--device", "cuda:abc", "--out", str(tmp_path / "r"),
              "--pipelines", str(pipelines_dir)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "error: --device cuda:abc: " in result.output  # not "cuda🔤" (rich emoji code :abc:)


def test_missing_cuda_is_a_clear_error(pipelines_dir, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RlpipeError, match="no CUDA device is available"):
        train_run(fast_spec(pipelines_dir, frames=200), TrainOptions(device="cuda", out=tmp_path))
