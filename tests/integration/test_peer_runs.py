"""Parity runs end to end on CPU: `rlpipe train --peer sb3` writes an ordinary run folder whose
numbers come from rlpipe's own bookkeeping, evaluation and score."""

from __future__ import annotations

import json
import os

import pytest
import torch
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.launch import TrainOptions, train_run
from rlpipe.loops.seedloop import COLUMNS
from rlpipe.rundir import read_rows
from rlpipe.rundir.summary import summarize
from rlpipe.spec import resolve_spec
from tests.conftest import REPO

pytest.importorskip("sb3_contrib")

TINY_SAC = [
    "max_frame=400", "seeds=2", "algorithm.learning_starts=200", "algorithm.batch_size=32",
    "algorithm.actor.hidden=[32, 32]", "algorithm.critic.hidden=[32, 32]",
    "meta.log_interval=200", "meta.eval_interval=400", "meta.eval_episodes=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def sac_peer_run(tmp_path_factory):
    """SB3's SAC on Pendulum for 400 frames (200 updates), two seeds in parallel processes."""
    resolved = resolve_spec("sac", "pendulum", TINY_SAC, REPO / "pipelines")
    out = tmp_path_factory.mktemp("peer") / "sac-pendulum-sb3"
    run_dir, summary = train_run(resolved, TrainOptions(device="cpu", out=out, peer="sb3"))
    return resolved, run_dir, summary


def test_a_peer_run_is_an_ordinary_run_folder_of_the_spec_it_mirrors(sac_peer_run):
    resolved, run_dir, _ = sac_peer_run
    saved = json.loads((run_dir / "spec.json").read_text())
    assert saved["spec_hash"] == resolved.spec_hash  # the rlpipe spec, as rlpipe's run has it
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert provenance["peer"]["name"] == "sb3"
    assert provenance["peer"]["implementation"] == "stable_baselines3:SAC"
    assert provenance["peer"]["library"] == "stable-baselines3"
    assert provenance["peer"]["version"] == provenance["peer"]["versions"]["stable-baselines3"]
    assert provenance["seed_workers"] == min(2, os.cpu_count() or 1)  # seeds in parallel processes
    assert provenance["spec_hash"] == resolved.spec_hash
    for seed in (0, 1):
        folder = run_dir / f"seed-{seed}"
        weights = torch.load(folder / "model.pt", weights_only=True)
        assert "actor.mu.weight" in weights["policy"]
        assert not (folder / "checkpoint").exists()  # a peer run keeps no resume checkpoints


def test_peer_metrics_have_rlpipes_columns_log_points_and_return_window(sac_peer_run):
    _, run_dir, _ = sac_peer_run
    for seed in (0, 1):
        path = run_dir / f"seed-{seed}" / "metrics.csv"
        assert tuple(path.read_text().splitlines()[0].split(",")) == COLUMNS
        rows = read_rows(path)
        assert [row["frame"] for row in rows] == [200, 400]
        assert [row["episodes"] for row in rows] == [1, 2]  # Pendulum: 200-frame episodes
        assert rows[0]["eval_return"] is None and rows[1]["eval_return"] is not None
        first, second = rows[0]["return_mean"], rows[1]["return_mean"]
        assert rows[1]["return_ma"] == pytest.approx((first + second) / 2)


def test_peer_summary_is_scored_by_rlpipes_summary_code(sac_peer_run):
    _, run_dir, summary = sac_peer_run
    results = [json.loads((run_dir / f"seed-{s}" / "result.json").read_text()) for s in (0, 1)]
    assert json.loads((run_dir / "summary.json").read_text()) == summarize(str(run_dir), results)
    last = [read_rows(run_dir / f"seed-{s}" / "metrics.csv")[-1] for s in (0, 1)]
    assert [r["return_ma"] for r in results] == pytest.approx([row["return_ma"] for row in last])
    assert summary.frames == 400 and summary.seeds == [0, 1]


def test_rlpipe_eval_of_a_peer_run_repeats_its_final_evaluation(sac_peer_run, tmp_path):
    _, run_dir, _ = sac_peer_run
    output = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", str(run_dir), "--output", str(output)])
    assert result.exit_code == 0, result.output
    evaluated = json.loads(output.read_text())
    final = [read_rows(run_dir / f"seed-{s}" / "metrics.csv")[-1]["eval_return"] for s in (0, 1)]
    assert [s["return_mean"] for s in evaluated["per_seed"]] == pytest.approx(final)


def test_ppo_peer_logs_between_whole_rollouts(pipelines_dir, tmp_path):
    overrides = ["max_frame=512", "seeds=1", "meta.log_interval=256", "meta.eval_interval=512",
                 "meta.eval_episodes=2"]  # fmt: skip
    resolved = resolve_spec("ppo", "cartpole", overrides, pipelines_dir)
    run_dir, summary = train_run(
        resolved, TrainOptions(device="cpu", out=tmp_path / "run", peer="sb3")
    )
    rows = read_rows(run_dir / "seed-0" / "metrics.csv")
    assert [row["frame"] for row in rows] == [256, 512]  # 32 steps x 8 envs per rollout
    assert rows[-1]["eval_return"] is not None and summary.frames == 512
    assert json.loads((run_dir / "provenance.json").read_text())["peer"]["library"] == (
        "stable-baselines3"
    )

    # 20 epochs x one 256-sample minibatch per rollout, 2 rollouts: counted in minibatches.
    assert summary.per_seed[0].updates == 40


@pytest.mark.parametrize(
    "family,spec,overrides,updates",
    [
        # DQN: one update every 10 frames after 1000 random frames (SB3's Huber loss).
        (
            "dqn",
            "cartpole",
            ["env.max_frame=1400", "algorithm.learning_starts=1000", "algorithm.loss=huber"],
            40,
        ),
        # A2C: one update per rollout of 8 envs x 8 steps.
        ("a2c", "pendulum", ["env.max_frame=640"], 10),
    ],
)
def test_dqn_and_a2c_peers_train_into_run_folders(
    pipelines_dir, tmp_path, family, spec, overrides, updates
):
    extra = ["seeds=1", "meta.log_interval=320", "meta.eval_interval=640", "meta.eval_episodes=2"]
    resolved = resolve_spec(family, spec, [*overrides, *extra], pipelines_dir)
    run_dir, summary = train_run(
        resolved, TrainOptions(device="cpu", out=tmp_path / "run", peer="sb3")
    )
    assert summary.per_seed[0].updates == updates
    assert summary.eval_return is not None
    peer = json.loads((run_dir / "provenance.json").read_text())["peer"]
    assert peer["implementation"] == f"stable_baselines3:{family.upper()}"


def test_a_spec_the_peer_cannot_mirror_stops_before_the_run_folder_is_made(pipelines_dir, tmp_path):
    out = tmp_path / "run"
    args = ["train", "sac", "pendulum", "--peer", "sb3", "-s", "algorithm.policy_delay=2",
            "--out", str(out), "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "algorithm.policy_delay 2: SB3's SAC updates the actor at every critic update" in (
        " ".join(result.output.split())
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--resume"], "--resume applies to rlpipe's own training"),
        (["--peer-version", "stable-baselines3==0.0.1"], "stable-baselines3==0.0.1"),
        (["--peer", "sb4"], "'sb4' is not one of 'sb3'"),
    ],
)
def test_peer_options_rlpipe_cannot_honour_are_errors(pipelines_dir, tmp_path, flags, message):
    args = ["train", "sac", "pendulum", "--peer", "sb3", *flags, "--out", str(tmp_path / "run"),
            "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in " ".join(result.output.split())
