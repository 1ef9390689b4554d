"""Specs of the baselines (PPO, A2C, DQN) and Atari: defaults, and bad input caught early."""

from __future__ import annotations

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.spec import Spec, check_all, resolve_spec, spec_hash

GAMES = ["breakout", "mspacman", "pong", "qbert", "seaquest", "spaceinvaders"]


def error_of(*args) -> str:
    with pytest.raises(RlpipeError) as info:
        resolve_spec(*args)
    return str(info.value)


@pytest.mark.parametrize("family", ["ppo", "a2c", "dqn"])
def test_every_baseline_spec_resolves_and_revalidates_to_its_hash(pipelines_dir, family):
    results = check_all(pipelines_dir, [family])
    assert all(c.error is None for c in results), [c.error for c in results if c.error]
    for check in results:
        dumped = check.resolved.spec.model_dump(mode="json")
        assert spec_hash(Spec.model_validate(dumped)) == check.resolved.spec_hash


def test_families_cover_the_crossq_envs_and_six_atari_games(pipelines_dir):
    names = {c.family: {c.name for c in check_all(pipelines_dir, [c.family])}
             for c in check_all(pipelines_dir, ["crossq", "ppo", "a2c", "dqn"])}  # fmt: skip
    envs = names["crossq"] - {"pendulum-quick"}  # the README's first run, CrossQ only
    assert names["ppo"] == envs | set(GAMES)
    assert names["a2c"] == envs
    assert names["dqn"] == {"cartpole", "acrobot", "lunarlander", *GAMES}


def test_atari_specs_get_the_standard_preprocessing(pipelines_dir):
    spec = resolve_spec("dqn", "breakout", [], pipelines_dir).spec
    atari = spec.env.atari
    assert spec.env.id == "ALE/Breakout-v5"
    assert (atari.noop_max, atari.frame_skip, atari.screen_size, atari.frame_stack) == (
        30,
        4,
        84,
        4,
    )
    assert atari.episodic_life and atari.clip_reward
    assert resolve_spec("ppo", "cartpole", [], pipelines_dir).spec.env.atari is None


def test_dqn_on_a_continuous_env_is_rejected_before_training(pipelines_dir):
    message = error_of("dqn", "cartpole", ["env.id=Pendulum-v1"], pipelines_dir)
    assert "DQN needs discrete actions, but Pendulum-v1 has continuous actions" in message


def test_ppo_minibatch_larger_than_the_rollout_is_rejected(pipelines_dir):
    message = error_of("ppo", "cartpole", ["algorithm.batch_size=1000"], pipelines_dir)
    assert (
        "batch_size (1000) is larger than a rollout: num_steps x env.num_envs = 32 x 8" in message
    )


def test_shared_network_needs_one_trunk(pipelines_dir):
    message = error_of(
        "ppo", "cartpole", ["algorithm.shared_network=true", "algorithm.critic.hidden=[32]"],
        pipelines_dir,
    )  # fmt: skip
    assert "shared_network is true, so actor and critic are one trunk" in message


def test_atari_settings_on_a_non_atari_env_are_rejected(pipelines_dir):
    message = error_of("ppo", "cartpole", ["env.atari.noop_max=10"], pipelines_dir)
    assert "atari settings apply to ALE/ envs only, not CartPole-v1" in message


def test_unknown_atari_key_suggests_closest(pipelines_dir):
    message = error_of("ppo", "breakout", ["env.atari.frame_stak=2"], pipelines_dir)
    assert "key env.atari.frame_stak: unknown key" in message and "'frame_stack'" in message


def test_log_std_init_on_a_discrete_env_is_rejected(pipelines_dir):
    message = error_of("a2c", "cartpole", ["algorithm.log_std_init=-1"], pipelines_dir)
    assert "CartPole-v1 has discrete actions" in message and "log_std_init" in message


def test_on_policy_networks_refuse_norm_layers(pipelines_dir):
    message = error_of("ppo", "hopper", ["algorithm.actor.norm=layer"], pipelines_dir)
    assert "actor.norm: PPO networks take norm none only" in message


MUJOCO = ["ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup",
          "inverteddoublependulum", "invertedpendulum", "pusher", "reacher", "swimmer", "walker2d"]  # fmt: skip


def test_a2c_pendulum_resolves_rl_zoos_gamma_and_init(pipelines_dir):
    spec = resolve_spec("a2c", "pendulum", [], pipelines_dir).spec
    algo = spec.algorithm
    assert algo.gamma == 0.9  # RL Zoo's Pendulum-v1 A2C entry; 0.99 before this was caught
    assert (algo.num_steps, algo.gae_lambda, algo.vf_coef, algo.lr) == (8, 0.9, 0.4, 7e-4)
    assert algo.anneal_lr and algo.normalize_reward and spec.env.normalize_obs
    assert algo.ortho_init is False and algo.log_std_init is None  # no gSDE here: log std 0
    assert spec.env.num_envs == 8 and spec.env.max_frame == 1_000_000


@pytest.mark.parametrize("name", MUJOCO)
def test_a2c_mujoco_specs_are_sb3_defaults_with_normalisation(pipelines_dir, name):
    spec = resolve_spec("a2c", name, [], pipelines_dir).spec
    algo = spec.algorithm
    assert (algo.num_steps, algo.lr, algo.gae_lambda, algo.vf_coef, algo.ent_coef) == (
        5, 7e-4, 1.0, 0.5, 0.0)  # fmt: skip
    assert (algo.optimizer, algo.max_grad_norm, algo.anneal_lr) == ("rmsprop", 0.5, False)
    assert algo.ortho_init and algo.log_std_init is None and not algo.normalize_advantage
    assert algo.normalize_reward and spec.env.normalize_obs and spec.env.num_envs == 1
    assert algo.gamma == (0.9999 if name == "swimmer" else 0.99)
    assert spec.env.max_frame == (2_000_000 if name == "humanoid" else 1_000_000)
