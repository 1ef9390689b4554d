"""Baselines end to end on CPU: Atari preprocessing, reproducibility, resume, NaN guard."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from rlpipe.algos.ppo import PPO
from rlpipe.envs import env_shapes, finished_returns, learning_terminals, make_vec_env
from rlpipe.loops.seedloop import COLUMNS, NonFiniteLoss
from rlpipe.rundir import WALL_CLOCK_COLUMNS, read_rows
from rlpipe.spec import resolve_spec
from tests.training import train_one_seed

needs_ale = pytest.mark.skipif(
    importlib.util.find_spec("ale_py") is None or importlib.util.find_spec("cv2") is None,
    reason="ale-py / opencv not installed (pip install 'rlpipe[atari]')",
)
TINY = ["meta.log_interval=100", "meta.eval_episodes=2", "seeds=1"]
ATARI = [
    *TINY,
    "max_frame=400",
    "env.num_envs=2",
    "env.max_episode_steps=200",  # an untrained policy may never serve the ball
    "meta.eval_interval=400",
]
ATARI_PPO = ["algorithm.num_steps=100", "algorithm.batch_size=100", "algorithm.num_epochs=1"]
ATARI_DQN = ["algorithm.learning_starts=200", "algorithm.batch_size=16"]


def without_wall_clock(rows):
    return [{k: v for k, v in row.items() if k not in WALL_CLOCK_COLUMNS} for row in rows]


@needs_ale
def test_atari_frames_are_stacked_uint8_and_scores_unclipped(pipelines_dir):
    # SpaceInvaders scores 5 to 30 points an invader: clipped rewards and scores differ.
    env_spec = resolve_spec("ppo", "spaceinvaders", [*ATARI, "env.max_episode_steps=100"],
                            pipelines_dir).spec.env  # fmt: skip
    train_envs = make_vec_env(env_spec, 0, training=True, rescale_actions=False)
    obs, _ = train_envs.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    assert env_shapes(train_envs).obs_shape == (4, 84, 84)
    rewards, scores = [], []
    for _ in range(300):
        obs, reward, _, _, info = train_envs.step(train_envs.action_space.sample())
        rewards.append(reward)
        scores += finished_returns(info)
    assert set(np.concatenate(rewards)) <= {0.0, 1.0}  # clipped for training
    assert len(scores) >= 4 and max(scores) >= 5  # the game's own score


@needs_ale
def test_episodic_life_ends_episodes_for_the_learner_only(pipelines_dir):
    envs = make_vec_env(
        resolve_spec("dqn", "breakout", ATARI, pipelines_dir).spec.env, 0, rescale_actions=False
    )
    envs.reset(seed=0)
    lives_lost, games_over = 0, 0
    for _ in range(100):  # a random Breakout player loses a life every ~30 steps
        _, _, terminated, _, info = envs.step(envs.action_space.sample())
        lives_lost += int((learning_terminals(terminated, info) & ~terminated).sum())
        games_over += int(terminated.sum())
    assert lives_lost >= 2 and games_over == 0


@needs_ale
@pytest.mark.parametrize(
    "fire_on_reset,episodic_life,lives_lost",
    [(True, True, 2), (True, False, 1), (False, True, 0)],
)
def test_breakout_is_started_with_fire_after_reset_and_after_a_lost_life(
    pipelines_dir, fire_on_reset, episodic_life, lives_lost
):
    # Doing nothing, a served ball is lost every 23 steps (seed 0); unserved, none is.
    overrides = [f"env.atari.fire_on_reset={str(fire_on_reset).lower()}",
                 f"env.atari.episodic_life={str(episodic_life).lower()}"]  # fmt: skip
    spec = resolve_spec("dqn", "breakout", [*ATARI, *overrides], pipelines_dir).spec
    envs = make_vec_env(spec.env, 0, num_envs=1, rescale_actions=False)
    _, info = envs.reset(seed=0)
    assert info["lives"][0] == 5
    for _ in range(50):
        _, _, terminated, truncated, info = envs.step(np.zeros(1, dtype=np.int64))  # NOOP
        assert not (terminated | truncated).any()
    envs.close()
    assert info["lives"][0] == 5 - lives_lost


@needs_ale
@pytest.mark.parametrize(
    "family,extra,logged",
    [("ppo", ATARI_PPO, [200, 400]), ("dqn", ATARI_DQN, [100, 200, 300, 400])],  # PPO: per rollout
)
def test_atari_smoke_run_trains_a_few_hundred_frames(
    pipelines_dir, tmp_path, family, extra, logged
):
    spec = resolve_spec(family, "breakout", [*ATARI, *extra], pipelines_dir).spec
    result = train_one_seed(spec, tmp_path)
    assert result["frames"] == 400 and result["eval_return"] is not None
    rows = read_rows(tmp_path / "seed-0" / "metrics.csv")
    assert [int(r["frame"]) for r in rows] == logged
    assert rows[-1]["loss_critic"] is not None
    weights = torch.load(tmp_path / "seed-0" / "model.pt", weights_only=True)
    key = "net" if family == "ppo" else "q_net"
    assert any(name.startswith(("actor_body.net.0", "0.net.0")) for name in weights[key])


@pytest.mark.parametrize("family", ["ppo", "a2c", "dqn"])
def test_same_seed_gives_identical_metrics_on_cpu(pipelines_dir, tmp_path, family):
    extra = ["algorithm.learning_starts=100"] if family == "dqn" else []
    spec = resolve_spec(family, "cartpole", [*TINY, "max_frame=600", *extra], pipelines_dir).spec
    rows = []
    for name in ("a", "b"):
        train_one_seed(spec, tmp_path / name, seed=3)
        rows.append(without_wall_clock(read_rows(tmp_path / name / "seed-3" / "metrics.csv")))
    assert rows[0] == rows[1]
    assert len(rows[0]) >= 3 and rows[0][-1]["loss_critic"] is not None


def test_on_policy_run_writes_the_same_files_with_its_own_statistics(pipelines_dir, tmp_path):
    spec = resolve_spec("ppo", "pendulum", [*TINY, "max_frame=1000", "env.num_envs=2",
                                            "algorithm.num_steps=64"], pipelines_dir).spec  # fmt: skip
    result = train_one_seed(spec, tmp_path)
    header = (tmp_path / "seed-0" / "metrics.csv").read_text().split("\n", 1)[0]
    assert header == ",".join(COLUMNS + PPO.metric_columns)
    rows = read_rows(tmp_path / "seed-0" / "metrics.csv")
    # Rollouts of 128 frames; a row at the first rollout past each 100 frames; the last
    # rollout is cut to 104 frames so that the run ends at max_frame exactly.
    assert [int(r["frame"]) for r in rows] == [128, 256, 384, 512, 640, 768, 896, 1000]
    assert "alpha" not in rows[0] and "q_mean" not in rows[0]
    assert all(r["loss_actor"] is not None and r["approx_kl"] is not None for r in rows)
    assert result["frames"] == 1000
    assert (tmp_path / "seed-0" / "result.json").exists()
    assert (tmp_path / "seed-0" / "model.pt").exists()


def test_on_policy_resume_continues_from_the_checkpoint_without_losing_rows(
    pipelines_dir, tmp_path
):
    spec = resolve_spec("ppo", "cartpole", [*TINY, "max_frame=2048", "meta.checkpoint_interval=800"],
                        pipelines_dir).spec  # fmt: skip
    seed_dir = tmp_path / "seed-0"
    train_one_seed(spec, tmp_path)
    first = without_wall_clock(read_rows(seed_dir / "metrics.csv"))
    saved = torch.load(seed_dir / "checkpoint" / "state.pt", weights_only=True)
    assert saved["loop"]["frame"] == 1792  # the last checkpoint before the end
    (seed_dir / "result.json").unlink()  # as if killed after that checkpoint
    result = train_one_seed(spec, tmp_path, resume=True)
    resumed = without_wall_clock(read_rows(seed_dir / "metrics.csv"))
    assert [r["frame"] for r in resumed] == [r["frame"] for r in first]
    assert resumed[:-1] == first[:-1] and result["frames"] == 2048


def test_nan_loss_stops_an_on_policy_run_naming_loss_and_frame(
    pipelines_dir, tmp_path, monkeypatch
):
    real_update = PPO.update

    def poisoned(self, *args):
        stats = real_update(self, *args)
        if self.updates > 40:
            stats["loss_actor"] = stats["loss_actor"] * float("nan")
        return stats

    monkeypatch.setattr(PPO, "update", poisoned)
    spec = resolve_spec("ppo", "cartpole", [*TINY, "max_frame=2048", "meta.checkpoint_interval=500"],
                        pipelines_dir).spec  # fmt: skip
    with pytest.raises(NonFiniteLoss) as info:
        train_one_seed(spec, tmp_path)
    # 20 updates a 256-frame rollout: update 41 is in the third rollout, after the
    # checkpoint at frame 512.
    assert "loss_actor became nan between frames 512 and 768" in str(info.value)
    assert "last good checkpoint (frame 512)" in str(info.value)
