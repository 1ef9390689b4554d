"""Specs of the baselines (PPO, A2C, DQN) and Atari: defaults, and bad input caught early."""

from __future__ import annotations

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.spec import resolve_spec

# Which baseline specs ship, that each resolves, and the values they cite from RL Zoo are
# repo-data tests: tests/unit/test_repo_pipelines.py. These read the fixture pipelines.


def error_of(*args) -> str:
    with pytest.raises(RlpipeError) as info:
        resolve_spec(*args)
    return str(info.value)


def test_atari_specs_get_the_standard_preprocessing(fixture_pipelines):
    spec = resolve_spec("dqn", "breakout", [], fixture_pipelines).spec
    atari = spec.env.atari
    assert spec.env.id == "ALE/Breakout-v5"
    assert (atari.noop_max, atari.frame_skip, atari.screen_size, atari.frame_stack) == (
        30,
        4,
        84,
        4,
    )
    assert atari.episodic_life and atari.clip_reward
    assert resolve_spec("ppo", "cartpole", [], fixture_pipelines).spec.env.atari is None


def test_dqn_on_a_continuous_env_is_rejected_before_training(fixture_pipelines):
    message = error_of("dqn", "cartpole", ["env.id=Pendulum-v1"], fixture_pipelines)
    assert "DQN needs discrete actions, but Pendulum-v1 has continuous actions" in message


def test_ppo_minibatch_larger_than_the_rollout_is_rejected(fixture_pipelines):
    message = error_of("ppo", "cartpole", ["algorithm.batch_size=1000"], fixture_pipelines)
    assert (
        "batch_size (1000) is larger than a rollout: num_steps x env.num_envs = 16 x 2" in message
    )


def test_shared_network_needs_one_trunk(fixture_pipelines):
    message = error_of(
        "ppo", "cartpole", ["algorithm.shared_network=true", "algorithm.critic.hidden=[32]"],
        fixture_pipelines,
    )  # fmt: skip
    assert "shared_network is true, so actor and critic are one trunk" in message


def test_atari_settings_on_a_non_atari_env_are_rejected(fixture_pipelines):
    message = error_of("ppo", "cartpole", ["env.atari.noop_max=10"], fixture_pipelines)
    assert "atari settings apply to ALE/ envs only, not CartPole-v1" in message


def test_unknown_atari_key_suggests_closest(fixture_pipelines):
    message = error_of("ppo", "breakout", ["env.atari.frame_stak=2"], fixture_pipelines)
    assert "key env.atari.frame_stak: unknown key" in message and "'frame_stack'" in message


def test_log_std_init_on_a_discrete_env_is_rejected(fixture_pipelines):
    message = error_of("a2c", "cartpole", ["algorithm.log_std_init=-1"], fixture_pipelines)
    assert "CartPole-v1 has discrete actions" in message and "log_std_init" in message


def test_on_policy_networks_refuse_norm_layers(fixture_pipelines):
    message = error_of("ppo", "hopper", ["algorithm.actor.norm=layer"], fixture_pipelines)
    assert "actor.norm: PPO networks take norm none only" in message
