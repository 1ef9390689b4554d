"""tools/random_scores.py: the random-policy returns the report's normalised scores start from."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from rlpipe.report.aggregate import read_random_scores
from rlpipe.spec import load_suite

TOOL = Path(__file__).resolve().parents[2] / "tools" / "random_scores.py"
REPO = TOOL.parents[1]

SUITE = """hub_repo: rlpipe/fixture
seeds: 2
device: cpu
envs:
  cartpole: {id: CartPole-v1, category: classic, target: 400, budget: 200000}
  pong: {id: ALE/Pong-v5, category: atari, target: 0, budget: 1000000}
runs:
  ppo-cartpole: {family: ppo, spec: cartpole, frames: 1000}
"""


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("random_scores_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_writes_a_seeded_row_per_env_an_atari_game_included(tmp_path):
    pytest.importorskip("ale_py")
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "random_scores.csv"
    tool = load_tool()

    assert tool.main([str(suite), "--episodes", "2", "--out", str(out)]) == 0
    first = out.read_text()
    assert tool.main([str(suite), "--episodes", "2", "--out", str(out)]) == 0

    assert out.read_text() == first  # seeded: the same command writes the same file
    rows = [line.split(",") for line in first.splitlines() if not line.startswith("#")]
    assert [row[0] for row in rows] == ["env", "CartPole-v1", "ALE/Pong-v5"]
    scores = read_random_scores(out)
    assert 8 <= scores["CartPole-v1"] <= 60  # a random CartPole pole falls in 8-60 steps
    assert -21 <= scores["ALE/Pong-v5"] <= -15  # a random paddle loses nearly every point
    assert rows[2][3] == "2"


def test_the_committed_file_covers_every_env_of_the_suites_it_was_written_from():
    committed = read_random_scores(REPO / "references" / "random_scores.csv")
    for name in ("suite.yaml", "suite-full.yaml", "suite-cpu.yaml"):
        env_ids = {env.id for env in load_suite(REPO / "params" / name).envs.values()}
        assert env_ids <= set(committed), (name, env_ids - set(committed))
