"""`rlpipe eval --output`: a run's own records and weights are never overwritten, nor any file
that is not an earlier evaluation; re-running an evaluation over its own file still works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rlpipe.algos.registry import build_agent
from rlpipe.cli import app
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.rundir import RunFolder
from rlpipe.spec import resolve_spec


@pytest.fixture
def run(tmp_path, fixture_pipelines) -> RunFolder:
    """A run folder of one untrained PPO Pendulum seed (its weights and spec), with a summary."""
    resolved = resolve_spec("ppo", "pendulum", ["seeds=1"], fixture_pipelines)
    run = RunFolder(tmp_path / "runs" / "ppo-pendulum")
    run.write_spec(resolved.spec.model_dump(mode="json"), resolved.spec_hash, ["seeds=1"])
    envs = make_vec_env(resolved.spec.env, 0, num_envs=1, rescale_actions=False)
    torch.manual_seed(0)
    agent = build_agent(resolved.spec, env_shapes(envs), torch.device("cpu"))
    envs.close()
    run.seed(0).save_weights(agent.state_dict(with_optimizers=False))
    run.summary_file.write_text('{"stands in for": "the run\'s summary"}\n')
    return run


def evaluate(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["eval", *map(str, args)], terminal_width=400)
    return result.exit_code, result.output


def snapshot(run: RunFolder) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(run.path.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(
    ("relative", "what"),
    [
        ("summary.json", "the summary (the run's score)"),
        ("spec.json", "the resolved spec"),
        ("seed-0/model.pt", "seed 0's final weights"),
        ("seed-0/checkpoint/state.pt", "seed 0's resume checkpoint"),
    ],
)
def test_eval_output_onto_a_run_file_is_refused_and_writes_nothing(run, relative, what):
    before = snapshot(run)
    code, output = evaluate(run.path, "--episodes", "1", "--output", run.path / relative)
    assert code == 2, output
    assert f"is {what} of the run folder" in output and "give --output a file" in output
    assert snapshot(run) == before


def test_merged_group_evaluations_onto_the_runs_summary_are_refused(run, tmp_path):
    group = tmp_path / "evals" / "seeds-0.json"
    code, output = evaluate(run.path, "--episodes", "1", "--output", group)
    assert code == 0, output
    before = snapshot(run)
    code, output = evaluate(run.path, "--merge", group, "--output", run.summary_file)
    assert code == 2 and "is the summary (the run's score)" in output
    assert snapshot(run) == before


def test_eval_output_onto_a_file_that_is_not_an_evaluation_is_refused(run, tmp_path):
    notes = tmp_path / "notes.json"
    notes.write_text('{"todo": "retrain hopper"}')
    code, output = evaluate(run.path, "--episodes", "1", "--output", notes)
    assert code == 2
    assert "exists and is not an evaluation written by rlpipe eval" in output
    assert notes.read_text() == '{"todo": "retrain hopper"}'


def test_eval_overwrites_its_own_earlier_evaluation(run, tmp_path):
    output = tmp_path / "evals" / "ppo-pendulum.json"
    for episodes in ("1", "2"):
        code, printed = evaluate(run.path, "--episodes", episodes, "--output", output)
        assert code == 0, printed
        assert json.loads(output.read_text())["episodes_per_seed"] == int(episodes)
    code, printed = evaluate(run.path, "--episodes", "1")  # the default, RUN/eval.json, twice
    assert code == 0, printed
    code, printed = evaluate(run.path, "--episodes", "1")
    assert code == 0 and run.eval_file.is_file(), printed
