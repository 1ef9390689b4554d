"""The baselines learn CartPole-v1: deterministic eval return after a fixed, stated budget.

Budgets are frames (env steps, all envs summed) of the pipelines' own cartpole specs
(RL Zoo hyperparameters; CleanRL's for DQN), seed 0, one torch thread on CPU (the tests run beside each other
under pytest-xdist); only the final evaluation runs.
"""

from __future__ import annotations

import pytest
import torch

from rlpipe.spec import resolve_spec
from tests.training import train_one_seed

pytestmark = pytest.mark.learning


def final_eval(pipelines_dir, tmp_path, family, frames):
    overrides = [f"max_frame={frames}", f"meta.eval_interval={frames}", "meta.log_interval=5000",
                 "meta.eval_episodes=10"]  # fmt: skip
    spec = resolve_spec(family, "cartpole", overrides, pipelines_dir).spec
    torch.set_num_threads(1)
    return train_one_seed(spec, tmp_path)["eval_return"]


def test_ppo_balances_cartpole_above_400_in_40000_frames(pipelines_dir, tmp_path):
    # 25k frames was on the edge: seeds 0-4 on one thread gave 95.7, 143.9, 500, 494.5, 456.9;
    # at 40k all five give 500.0 (RL Zoo trains this spec for 100k).
    assert final_eval(pipelines_dir, tmp_path, "ppo", 40_000) > 400


def test_dqn_balances_cartpole_above_150_in_100000_frames(pipelines_dir, tmp_path):
    # CleanRL's values (5e5 frames), squeezed to 1e5: 1e4 random frames, 9k updates. Seeds 0-1
    # evaluated 415.7 and 306.0 there (rlpipe train dqn cartpole -s max_frame=1e5 --seeds 2).
    assert final_eval(pipelines_dir, tmp_path, "dqn", 100_000) > 150


def test_a2c_balances_cartpole_above_150_in_60000_frames(pipelines_dir, tmp_path):
    assert final_eval(pipelines_dir, tmp_path, "a2c", 60_000) > 150
