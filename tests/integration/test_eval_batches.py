"""`rlpipe eval` with many episodes: bounded envs alive at once, the same result as one batch."""

from __future__ import annotations

import json

import pytest
import torch

import rlpipe.evaluation
from rlpipe.algos.registry import build_agent
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.evaluation import EVAL_ENVS_AT_ONCE, evaluate_run
from rlpipe.rundir import RunFolder
from rlpipe.spec import resolve_spec

EPISODES = EVAL_ENVS_AT_ONCE + 3


@pytest.fixture
def run_dir(tmp_path, pipelines_dir):
    """A run folder with an untrained PPO Pendulum policy (its returns differ by episode seed)."""
    resolved = resolve_spec("ppo", "pendulum", ["seeds=1"], pipelines_dir)
    run = RunFolder(tmp_path / "ppo-pendulum")
    run.write_spec(resolved.spec.model_dump(mode="json"), resolved.spec_hash, [])
    envs = make_vec_env(resolved.spec.env, 0, num_envs=1, rescale_actions=False)
    torch.manual_seed(0)
    agent = build_agent(resolved.spec, env_shapes(envs), torch.device("cpu"))
    envs.close()
    run.seed(0).save_weights(agent.state_dict(with_optimizers=False))
    return run


def test_many_episodes_run_in_batches_with_the_result_of_one_batch(run_dir, monkeypatch):
    sizes = []

    def recording(env, seed, num_envs=None, training=False, **kwargs):
        sizes.append(num_envs)
        return make_vec_env(env, seed, num_envs, training, **kwargs)

    monkeypatch.setattr(rlpipe.evaluation, "make_vec_env", recording)
    batched = evaluate_run(run_dir, episodes=EPISODES)
    assert sizes == [EVAL_ENVS_AT_ONCE, 3]
    assert json.loads((run_dir.path / "eval.json").read_text())["episodes_per_seed"] == EPISODES

    monkeypatch.setattr(rlpipe.evaluation, "EVAL_ENVS_AT_ONCE", EPISODES)
    at_once = evaluate_run(run_dir, episodes=EPISODES)
    assert sizes[2:] == [EPISODES]
    assert batched["return_mean"] == pytest.approx(at_once["return_mean"], rel=1e-9)
    assert batched["per_seed"][0]["return_mean"] != pytest.approx(
        evaluate_run(run_dir, episodes=5)["return_mean"], rel=1e-6
    )  # the episodes really differ: the batches are not replaying one episode
