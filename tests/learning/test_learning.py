"""Agents actually learn: deterministic eval return after a fixed, stated frame budget."""

from __future__ import annotations

import pytest
import torch

from rlpipe.fast import compile_supported
from rlpipe.spec import resolve_spec
from tests.training import train_one_seed

pytestmark = pytest.mark.learning

CADENCE = ["meta.log_interval=1000", "meta.eval_interval=1000", "meta.eval_episodes=10"]


def final_eval(pipelines_dir, tmp_path, family, spec, overrides, compile=False):
    resolved = resolve_spec(family, spec, [*CADENCE, *overrides], pipelines_dir)
    # One thread: the tests run beside each other (pytest-xdist), and OpenMP threads that share
    # cores with another worker spin-wait in barriers (measured: 5-10x slower).
    torch.set_num_threads(1)
    return train_one_seed(resolved.spec, tmp_path, compile=compile)["eval_return"]


def test_sac_solves_pendulum_in_6000_frames(pipelines_dir, tmp_path):
    assert final_eval(pipelines_dir, tmp_path, "sac", "pendulum", ["max_frame=6000"]) > -300


def test_crossq_solves_pendulum_in_6000_frames_with_the_compiled_update(pipelines_dir, tmp_path):
    if not compile_supported(torch.device("cpu"))[0]:
        pytest.skip("torch.compile on CPU needs a C++ compiler")
    score = final_eval(pipelines_dir, tmp_path, "crossq", "pendulum", ["max_frame=6000"], True)
    assert score > -300


def test_discrete_sac_balances_cartpole_in_5000_frames(pipelines_dir, tmp_path):
    assert final_eval(pipelines_dir, tmp_path, "sac", "cartpole", ["max_frame=5000"]) > 150
