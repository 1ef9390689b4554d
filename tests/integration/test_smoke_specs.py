"""Every starter spec trains for a few hundred frames, updates included, without error."""

from __future__ import annotations

import importlib.util

import pytest

from rlpipe.spec import read_pipeline, resolve_spec
from tests.conftest import REPO
from tests.training import train_one_seed

COMMON = ["max_frame=300", "meta.log_interval=100", "meta.eval_episodes=1", "seeds=1"]
OFF_POLICY = ["algorithm.learning_starts=100", "algorithm.batch_size=32", "algorithm.utd=0.25"]
# On-policy: 2 envs x 50-step rollouts; every episode is cut at 100 steps so that an
# untrained policy's evaluation (an Atari game, a MuJoCo run) stays short.
ON_POLICY = ["env.num_envs=2", "algorithm.num_steps=50", "env.max_episode_steps=100"]
SMOKE = {
    "crossq": COMMON + OFF_POLICY,
    "sac": COMMON + OFF_POLICY,
    "dqn": COMMON + OFF_POLICY + ["algorithm.batch_size=8", "env.max_episode_steps=100"],
    "ppo": COMMON + ON_POLICY + ["algorithm.batch_size=50", "algorithm.num_epochs=1"],
    "a2c": COMMON + ON_POLICY,
}
SPECS = [
    (family, name) for family in SMOKE for name in read_pipeline(family, REPO / "pipelines").specs
]
HAS_ALE = importlib.util.find_spec("ale_py") is not None


@pytest.mark.parametrize("family,name", SPECS, ids=[f"{f}-{n}" for f, n in SPECS])
def test_spec_trains_a_few_hundred_frames(pipelines_dir, tmp_path, family, name):
    spec = resolve_spec(family, name, SMOKE[family], pipelines_dir).spec
    if spec.env.atari is not None and not HAS_ALE:
        pytest.skip("ale-py is not installed (pip install 'rlpipe[atari]')")
    result = train_one_seed(spec, tmp_path)
    assert result["frames"] == 300
    assert result["eval_return"] is not None
    assert (tmp_path / "seed-0" / "model.pt").exists()
