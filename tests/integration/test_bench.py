"""`rlpipe bench`: both sides time the same window with the same updates; SPEED.md records it."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from rlpipe.bench.sb3 import sb3_unsupported
from rlpipe.bench.speed_report import add_record, read_records
from rlpipe.bench.timing import BenchResult
from rlpipe.cli import app
from rlpipe.spec import resolve_spec

TINY = [
    "algorithm.actor.hidden=[32, 32]",
    "algorithm.critic.hidden=[64, 64]",
    "algorithm.learning_starts=200",
    "algorithm.batch_size=32",
]


def test_rates_derive_from_frames_updates_and_seconds():
    result = BenchResult("rlpipe", 500, 1000, 4.0, 1.5, 400.0, None)
    assert (result.env_fps, result.updates_per_s, result.ms_per_update) == (125.0, 250.0, 4.0)
    assert result.as_dict()["ms_per_update"] == 4.0


def test_specs_without_a_faithful_sb3_twin_are_named(pipelines_dir):
    def why(family, *overrides):
        return sb3_unsupported(
            resolve_spec(family, "pendulum", list(overrides), pipelines_dir).spec
        )

    assert why("crossq") is None and why("sac") is None
    assert why("crossq", "algorithm.actor.norm=none") is None
    assert "sb3-contrib's CrossQ actor takes BatchRenorm or none" in why(
        "crossq", "algorithm.actor.norm=layer"
    )
    assert "SB3's SAC builds plain MLPs" in why("sac", "algorithm.actor.norm=batch_renorm")
    assert why("sac", "env.normalize_obs=true") is None  # VecNormalize mirrors it
    assert "policy_delay" in why("sac", "algorithm.policy_delay=2")
    assert "not a whole number" in why("sac", "algorithm.utd=1.5")
    assert "does not clip gradients" in why("sac", "algorithm.max_grad_norm=10")
    assert "the SB3 twin trains in fp32" in why("crossq", "algorithm.precision=bf16")


@pytest.mark.parametrize("actor_norm,renorm_layers", [("batch_renorm", 3), ("none", 0)])
def test_sb3_twin_mirrors_the_specs_actor_norm(pipelines_dir, actor_norm, renorm_layers):
    pytest.importorskip("sb3_contrib")
    from sb3_contrib.common.torch_layers import BatchRenorm1d

    spec = resolve_spec("crossq", "pendulum", [*TINY, f"algorithm.actor.norm={actor_norm}"],
                        pipelines_dir).spec  # fmt: skip
    from rlpipe.peers.sb3 import build_model, sb3_env

    env = sb3_env(spec, 0)
    model = build_model(spec, env, 0, "cpu", 100)
    actor_layers = [m for m in model.actor.modules() if isinstance(m, BatchRenorm1d)]
    assert len(actor_layers) == renorm_layers  # input and after each hidden layer, as rlpipe
    assert all(layer.momentum == 0.01 and layer.warmup_steps == 100_000 for layer in actor_layers)
    assert sum(isinstance(m, BatchRenorm1d) for m in model.critic.qf0.modules()) == 3
    env.close()


def test_bench_vs_sb3_times_the_same_updates_and_records_speed_md(pipelines_dir, tmp_path):
    pytest.importorskip("sb3_contrib")
    args = ["bench", "crossq", "pendulum", *[x for o in TINY for x in ("-s", o)],
            "--frames", "60", "--warmup", "10", "--device", "cpu", "--no-compile",
            "--vs", "sb3", "--rounds", "1", "--threads", "1", "--json", "--report",
            "--reports-dir", str(tmp_path), "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout[result.stdout.index("{") :])
    ours, sb3 = record["sides"]["rlpipe"]["median"], record["sides"]["sb3"]["median"]
    assert ours["frames"] == sb3["frames"] == 60
    assert ours["updates"] == sb3["updates"] == 60  # utd 1: one update per timed frame
    assert record["ratio"] == pytest.approx(ours["updates_per_s"] / sb3["updates_per_s"])
    assert record["critic"] == [64, 64] and record["window"]["compile"] is False

    speed_md = (tmp_path / "SPEED.md").read_text()
    assert f"{record['ratio']:.2f}x" in speed_md
    assert "rlpipe bench crossq pendulum -s 'algorithm.actor.hidden=[32, 32]'" in speed_md
    assert "--vs sb3 --rounds 1 --report" in speed_md


def test_bench_bf16_times_the_spec_in_both_precisions_and_records_their_ratio(
    pipelines_dir, tmp_path
):
    args = ["bench", "crossq", "pendulum", *[x for o in TINY for x in ("-s", o)],
            "--frames", "60", "--warmup", "10", "--device", "cpu", "--no-compile", "--bf16",
            "--rounds", "1", "--threads", "1", "--json", "--report",
            "--reports-dir", str(tmp_path), "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout[result.stdout.index("{") :])
    fp32, bf16 = record["sides"]["rlpipe"]["median"], record["sides"]["rlpipe-bf16"]["median"]
    assert fp32["side"] == "rlpipe" and bf16["side"] == "rlpipe-bf16"
    assert fp32["updates"] == bf16["updates"] == 60
    assert record["bf16_ratio"] == pytest.approx(bf16["updates_per_s"] / fp32["updates_per_s"])
    assert record["ratio"] is None and record["bf16_vs_sb3"] is None
    speed_md = (tmp_path / "SPEED.md").read_text()
    assert f"| {record['bf16_ratio']:.2f}x |" in speed_md
    assert "--bf16 --rounds 1 --report" in speed_md


def test_bench_bf16_refuses_a_spec_that_is_already_bf16(pipelines_dir):
    args = ["bench", "crossq", "pendulum", "-s", "algorithm.precision=bf16", "--bf16",
            "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 2
    assert "already sets algorithm.precision bf16" in result.output


def test_on_policy_bench_times_whole_rollouts_with_the_same_updates_on_both_sides(
    pipelines_dir, tmp_path, monkeypatch
):
    pytest.importorskip("stable_baselines3")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # where the trials' own processes make temp files
    # pendulum: 4 envs; 32 steps = 128-frame rollouts of 2 minibatches (64), 3 epochs each.
    overrides = ["algorithm.num_steps=32", "algorithm.batch_size=64", "algorithm.num_epochs=3"]
    args = ["bench", "ppo", "pendulum", *[x for o in overrides for x in ("-s", o)],
            "--frames", "200", "--warmup", "100", "--device", "cpu", "--no-compile",
            "--vs", "sb3", "--rounds", "1", "--threads", "1", "--json", "--report",
            "--reports-dir", str(tmp_path), "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout[result.stdout.index("{") :])
    ours, sb3 = record["sides"]["rlpipe"]["median"], record["sides"]["sb3"]["median"]
    assert ours["frames"] == sb3["frames"] == 256  # 200 frames, rounded up to 2 rollouts
    assert ours["updates"] == sb3["updates"] == 2 * 3 * 2  # rollouts x epochs x minibatches
    assert ours["seconds"] > 0 and sb3["seconds"] > 0 and ours["warmup_s"] > 0
    assert record["utd"] is None and record["batch_size"] == 64
    assert (
        "rlpipe bench ppo pendulum -s 'algorithm.num_steps=32'"
        in (tmp_path / "SPEED.md").read_text()
    )
    assert list(temp.iterdir()) == []  # no SB3-<date> log folder, no bench run folder left


def test_bench_of_a_spec_the_sb3_twin_cannot_mirror_says_why(pipelines_dir):
    args = ["bench", "dqn", "cartpole", "-s", "algorithm.double_q=true", "--frames", "10",
            "--vs", "sb3", "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "algorithm.double_q: SB3's DQN has no Double DQN target" in result.output


def test_a_new_measurement_replaces_the_old_one_of_its_configuration(tmp_path):
    def record(key, ratio):
        side = BenchResult("rlpipe", 10, 10, 1.0, 0.1, 1.0, None).as_dict()
        return {
            "key": key, "family": "sac", "spec": "hopper", "env": "Hopper-v5", "overrides": [],
            "spec_hash": "ab" * 32, "actor": [256, 256], "critic": [256, 256], "batch_size": 256,
            "utd": 1.0, "ratio": ratio, "date": "2026-11-25",
            "window": {"frames": 10, "warmup_frames": 1, "device": "cpu", "compile": False,
                       "threads": 2, "seed": 0},
            "sides": {"rlpipe": {"median": side, "rounds": [side]},
                      "sb3": {"median": side, "rounds": [side]}},
            "machine": {"device": "cpu", "gpu": None, "cpu": "x", "cores": 2, "threads": 2,
                        "rlpipe": "0.1.0", "torch": "2", "stable_baselines3": "2",
                        "sb3_contrib": "2", "python": "3.11"},
        }  # fmt: skip

    add_record(tmp_path, record("a", 1.1))
    add_record(tmp_path, record("b", 1.2))
    first = (tmp_path / "SPEED.md").read_text()
    add_record(tmp_path, record("a", 1.7))
    assert [(r["key"], r["ratio"]) for r in read_records(tmp_path)] == [("a", 1.7), ("b", 1.2)]
    text = (tmp_path / "SPEED.md").read_text()
    assert "| 1.70x |" in text and "| 1.10x |" not in text and "| 1.20x |" in text
    add_record(tmp_path, record("a", 1.1))
    assert (tmp_path / "SPEED.md").read_text() == first  # rendered from the records alone


def test_bench_refuses_zero_rounds_and_a_report_it_could_not_write_before_benchmarking(
    pipelines_dir, tmp_path
):
    runner = CliRunner()
    base = ["bench", "crossq", "pendulum", "--pipelines", str(pipelines_dir), "--frames", "300"]
    zero = runner.invoke(app, [*base, "--rounds", "0"], terminal_width=200)
    assert zero.exit_code == 2 and "--rounds" in zero.output

    (tmp_path / "speed.json").write_text(json.dumps({"records": [{"fps": 1}]}))
    damaged = runner.invoke(
        app, [*base, "--report", "--reports-dir", str(tmp_path)], terminal_width=200
    )
    assert damaged.exit_code == 2
    assert "speed.json is damaged (a record without its 'key')" in damaged.output
    assert "benchmarking" not in damaged.output and "frames/s" not in damaged.output


def test_more_threads_than_cores_is_warned_before_benchmarking(pipelines_dir, tmp_path):
    (tmp_path / "speed.json").write_text("{")  # stops the bench right after its checks
    threads, cores = 4 * (os.cpu_count() or 1), os.cpu_count() or 1
    args = ["bench", "crossq", "pendulum", "--pipelines", str(pipelines_dir), "--frames", "1e3",
            "--threads", str(threads), "--report", "--reports-dir", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=300)
    assert result.exit_code == 2
    assert (
        f"warning: --threads {threads} is more than this machine's {cores} cores: the threads "
        "share them" in " ".join(result.output.split())
    )
