"""--tensorboard and --wandb: views of the metrics rows, read back and compared with
metrics.csv, the source of truth."""

from __future__ import annotations

import pytest

from rlpipe.launch import TrainOptions, train_run
from rlpipe.rundir import read_rows
from rlpipe.spec import resolve_spec
from rlpipe.views import scalars, tag
from tests.wandb_log import read_offline_run

SMALL = ["max_frame=600", "seeds=1", "meta.log_interval=200", "meta.eval_interval=600",
         "meta.eval_episodes=2", "algorithm.learning_starts=200", "algorithm.batch_size=32",
         "algorithm.actor.hidden=[16, 16]", "algorithm.critic.hidden=[32, 32]"]  # fmt: skip


def test_columns_get_cleanrls_tag_names():
    assert tag("return_mean") == "charts/episodic_return"
    assert tag("fps") == "charts/SPS"
    assert tag("loss_critic") == "losses/critic_loss"
    assert tag("alpha") == "losses/alpha"
    assert scalars({"frame": 200, "eval_return": None, "return_ma": -3.5}) == {
        "charts/episodic_return_ma": -3.5
    }


def test_tensorboard_scalars_equal_the_metrics_rows(pipelines_dir, tmp_path):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    resolved = resolve_spec("crossq", "pendulum", SMALL, pipelines_dir)
    options = TrainOptions(device="cpu", out=tmp_path / "run", tensorboard=tmp_path / "tb")
    train_run(resolved, options)
    rows = read_rows(tmp_path / "run" / "seed-0" / "metrics.csv")
    events = event_accumulator.EventAccumulator(str(tmp_path / "tb" / "run" / "seed-0"))
    events.Reload()
    for column in ("return_ma", "loss_critic", "alpha", "eval_return"):
        logged = [(e.step, e.value) for e in events.Scalars(tag(column))]
        expected = [(int(r["frame"]), r[column]) for r in rows if r[column] is not None]
        assert [step for step, _ in logged] == [step for step, _ in expected]
        assert [value for _, value in logged] == pytest.approx([v for _, v in expected], rel=1e-6)
    assert [e.step for e in events.Scalars("charts/episodic_return_ma")] == [200, 400, 600]
    assert [e.step for e in events.Scalars("losses/critic_loss")] == [400, 600]  # updates from 200


def test_wandb_offline_run_holds_the_rows_and_the_spec(pipelines_dir, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    resolved = resolve_spec("crossq", "pendulum", SMALL, pipelines_dir)
    options = TrainOptions(device="cpu", out=tmp_path / "run", wandb=tmp_path / "wb")
    train_run(resolved, options)
    (run_file,) = (tmp_path / "wb" / "wandb").glob("offline-run-*/run-*.wandb")
    logged = read_offline_run(run_file)
    assert logged["config"]["env"]["id"] == "Pendulum-v1"
    assert logged["config"]["spec_hash"] == resolved.spec_hash
    assert logged["tags"][0] == resolved.spec_hash[:12] and logged["tags"][1].startswith("git-")
    rows = read_rows(tmp_path / "run" / "seed-0" / "metrics.csv")
    assert [entry["_step"] for entry in logged["history"]] == [int(r["frame"]) for r in rows]
    for entry, row in zip(logged["history"], rows, strict=True):
        for column, value in row.items():
            if column != "frame" and value is not None:
                assert entry[tag(column)] == pytest.approx(value, rel=1e-6), column
