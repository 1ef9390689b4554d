"""Every starter spec trains for a few hundred frames, updates included, without error."""

from __future__ import annotations

import pytest
import torch

from rlpipe.spec import read_pipeline, resolve_spec
from rlpipe.train import train_seed
from tests.conftest import REPO

SMOKE = [
    "max_frame=300",
    "algorithm.learning_starts=100",
    "algorithm.batch_size=32",
    "algorithm.utd=0.25",
    "meta.log_interval=100",
    "meta.eval_episodes=1",
    "seeds=1",
]
SPECS = [
    (family, name)
    for family in ("crossq", "sac")
    for name in read_pipeline(family, REPO / "pipelines").specs
]


@pytest.mark.parametrize("family,name", SPECS, ids=[f"{f}-{n}" for f, n in SPECS])
def test_spec_trains_a_few_hundred_frames(pipelines_dir, tmp_path, family, name):
    spec = resolve_spec(family, name, SMOKE, pipelines_dir).spec
    result = train_seed(spec, 0, tmp_path / "seed-0", torch.device("cpu"))
    assert result["frames"] == 300
    assert result["eval_return"] is not None
    assert (tmp_path / "seed-0" / "model.pt").exists()
