"""The SB3 twin of a spec: every mirrored setting read back from the built SB3 model, and every
setting it cannot mirror an error naming the spec field."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlpipe.algos.normalize import ObsNormalizer
from rlpipe.algos.registry import ALGORITHMS, build_agent
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.loops.onpolicy import RewardScaler
from rlpipe.peers import PEERS, check_peer
from rlpipe.peers.mirror import (
    check_version_pins,
    installed_versions,
    peer_record,
    sb3_unsupported,
    update_cadence,
    version_pins,
)
from rlpipe.spec import resolve_spec
from tests.conftest import FIXTURE_PIPELINES

pytest.importorskip("sb3_contrib")
from sb3_contrib.common.torch_layers import BatchRenorm

from rlpipe.peers import sb3


def spec_of(family, spec, *overrides):
    """A fixture pipeline's spec (tests/pipelines/): values chosen for the tests."""
    return resolve_spec(family, spec, list(overrides), FIXTURE_PIPELINES).spec


def twin_of(spec, seed=0):
    env = sb3.sb3_env(spec, seed)
    return sb3.build_model(spec, env, seed, "cpu"), env


def lrs(model):
    optimizers = (model.actor.optimizer, model.critic.optimizer, model.ent_coef_optimizer)
    return tuple(optimizer.param_groups[0]["lr"] for optimizer in optimizers)


def betas(model):
    """The actor's and critics' Adam betas (one pair), and the temperature's own."""
    pairs = {optimizer.param_groups[0]["betas"] for optimizer in (model.actor.optimizer,
                                                                  model.critic.optimizer)}  # fmt: skip
    return pairs, model.ent_coef_optimizer.param_groups[0]["betas"]


def linear_widths(module):
    return [layer.out_features for layer in module.modules() if isinstance(layer, torch.nn.Linear)]


def renorm_settings(module):
    return {
        (layer.momentum, layer.eps, layer.warmup_steps, layer.rmax, layer.dmax)
        for layer in module.modules()
        if isinstance(layer, BatchRenorm)
    }


CROSSQ = [
    "max_frame=2000", "memory.capacity=1500", "algorithm.gamma=0.97", "algorithm.batch_size=64",
    "algorithm.learning_starts=300", "algorithm.utd=2", "algorithm.policy_delay=2",
    "algorithm.actor_lr=1e-3", "algorithm.critic_lr=2e-3", "algorithm.alpha_lr=3e-3",
    "algorithm.adam_betas=[0.6, 0.99]", "algorithm.init_alpha=0.5", "algorithm.target_entropy=-2",
    "algorithm.alpha_adam_betas=[0.7, 0.9]", "algorithm.n_critics=3", "algorithm.log_alpha_max=0.1",
    "algorithm.actor.hidden=[32, 48]", "algorithm.actor.activation=tanh",
    "algorithm.critic.hidden=[64, 64]", "algorithm.critic.activation=tanh",
    "algorithm.critic.norm={type: batch_renorm, momentum: 0.02, eps: 1e-4, r_max: 2.5, d_max: 4, "
    "warmup_steps: 500}",
    "algorithm.actor.norm={type: batch_renorm, momentum: 0.05, eps: 1e-2, r_max: 2, d_max: 3, "
    "warmup_steps: 100}",
]  # fmt: skip


def test_crossq_twin_has_the_specs_settings_read_back_from_the_sb3_model():
    model, _ = twin_of(spec_of("crossq", "pendulum", *CROSSQ))
    assert type(model).__module__ == "rlpipe.peers.sb3" and "CrossQ" in type(model).__name__
    assert (model.gamma, model.batch_size, model.learning_starts) == (0.97, 64, 300)
    assert (model.train_freq.frequency, model.gradient_steps) == (1, 2)  # utd 2 per frame
    assert model.policy_delay == 2
    assert model.replay_buffer.buffer_size == 1500
    assert model.target_entropy == -2.0
    assert torch.exp(model.log_ent_coef).item() == pytest.approx(0.5)
    assert lrs(model) == (1e-3, 2e-3, 3e-3)
    assert betas(model) == ({(0.6, 0.99)}, (0.7, 0.9))
    assert linear_widths(model.actor.latent_pi) == [32, 48]
    assert linear_widths(model.critic.qf0) == [64, 64, 1] and model.critic.n_critics == 3
    assert isinstance(model.actor.latent_pi[2], torch.nn.Tanh)
    assert renorm_settings(model.critic) == {(0.02, 1e-4, 500, 2.5, 4.0)}
    assert renorm_settings(model.actor) == {(0.05, 1e-2, 100, 2.0, 3.0)}


def test_crossq_twin_actor_has_no_batch_renorm_when_the_specs_actor_has_none():
    model, _ = twin_of(spec_of("crossq", "pendulum", "algorithm.actor.norm=none"))
    assert renorm_settings(model.actor) == set()
    assert renorm_settings(model.critic) == {(0.01, 1e-3, 1000, 3.0, 5.0)}  # the spec's


def test_each_optimizer_keeps_its_own_learning_rate_through_sb3s_train_update():
    model, _ = twin_of(spec_of("crossq", "pendulum", *CROSSQ))
    model._current_progress_remaining = 0.3
    optimizers = [model.actor.optimizer, model.critic.optimizer, model.ent_coef_optimizer]
    model._update_learning_rate(optimizers)  # what train() calls before every round of updates
    assert lrs(model) == (1e-3, 2e-3, 3e-3)


def test_log_alpha_is_clamped_after_each_temperature_step_as_rlpipe_does():
    model, _ = twin_of(spec_of("crossq", "pendulum", *CROSSQ))
    with torch.no_grad():
        model.log_ent_coef.fill_(5.0)
    model.log_ent_coef.grad = torch.zeros_like(model.log_ent_coef)
    model.ent_coef_optimizer.step()
    assert model.log_ent_coef.item() == pytest.approx(0.1)


def test_sac_twin_has_the_specs_settings_and_normalises_observations_with_vecnormalize():
    spec = spec_of(
        "sac", "pendulum", "max_frame=2000", "algorithm.utd=0.5", "algorithm.tau=0.01",
        "algorithm.actor_lr=1e-4", "algorithm.critic_lr=2e-4", "algorithm.alpha_lr=3e-4",
        "algorithm.adam_betas=[0.8, 0.95]", "algorithm.batch_size=128", "env.normalize_obs=true",
        "algorithm.actor.hidden=[40, 40]", "algorithm.critic.hidden=[50, 60]",
    )  # fmt: skip
    model, env = twin_of(spec)
    assert "SAC" in type(model).__name__
    assert (model.train_freq.frequency, model.gradient_steps) == (2, 1)  # one update per 2 frames
    assert (model.tau, model.target_update_interval, model.batch_size) == (0.01, 1, 128)
    assert lrs(model) == (1e-4, 2e-4, 3e-4)
    assert betas(model) == ({(0.8, 0.95)}, (0.9, 0.999))  # temperature: Adam's own (default)
    assert torch.exp(model.log_ent_coef).item() == pytest.approx(1.0)
    assert model.target_entropy == -1.0  # auto: -action_dim, as rlpipe
    assert linear_widths(model.actor.latent_pi) == [40, 40]
    assert linear_widths(model.critic.qf0) == [50, 60, 1]
    assert model._vec_normalize_env is env  # replayed observations normalised at sampling time
    assert (env.norm_obs, env.norm_reward) == (True, False)
    assert (env.clip_obs, env.epsilon) == (ObsNormalizer(()).clip, ObsNormalizer(()).eps)


def test_sac_twin_with_a_fixed_temperature_has_no_temperature_optimizer():
    spec = spec_of("sac", "pendulum", "algorithm.autotune_alpha=false", "algorithm.init_alpha=0.2")
    model, _ = twin_of(spec)
    assert model.ent_coef_optimizer is None
    assert model.ent_coef_tensor.item() == pytest.approx(0.2)


def test_several_envs_make_whole_updates_per_vector_step():
    assert update_cadence(1.0, 4) == (1, 4)
    assert update_cadence(0.25, 4) == (1, 1)
    assert update_cadence(0.25, 2) == (2, 1)
    assert update_cadence(0.3, 1) is None


PPO = [
    "max_frame=1280", "env.num_envs=2", "algorithm.num_steps=64", "algorithm.batch_size=32",
    "algorithm.num_epochs=3", "algorithm.gamma=0.95", "algorithm.gae_lambda=0.9",
    "algorithm.clip_coef=0.3", "algorithm.ent_coef=0.01", "algorithm.vf_coef=0.8",
    "algorithm.max_grad_norm=0.7", "algorithm.lr=1e-3", "algorithm.anneal_lr=true",
    "algorithm.schedule_frames=1280",
    "algorithm.normalize_advantage=false", "algorithm.log_std_init=-0.5",
    "env.normalize_obs=true", "algorithm.normalize_reward=true",
    "algorithm.actor.hidden=[32, 16]", "algorithm.actor.activation=relu",
    "algorithm.critic.hidden=[24, 24]", "algorithm.critic.activation=relu",
]  # fmt: skip


def test_ppo_twin_has_the_specs_settings_read_back_from_the_sb3_model():
    spec = spec_of("ppo", "pendulum", *PPO)
    model, env = twin_of(spec)
    assert (model.n_steps, model.n_envs, model.batch_size, model.n_epochs) == (64, 2, 32, 3)
    assert (model.gamma, model.gae_lambda, model.ent_coef) == (0.95, 0.9, 0.01)
    assert model.clip_range(0.5) == 0.3 and model.clip_range_vf is None
    assert model.vf_coef == 0.8  # both value terms are vf_coef x MSE
    assert model.max_grad_norm == 0.7 and model.normalize_advantage is False
    assert model.target_kl is None
    policy = model.policy
    assert linear_widths(policy.mlp_extractor.policy_net) == [32, 16]
    assert linear_widths(policy.mlp_extractor.value_net) == [24, 24]
    assert isinstance(policy.mlp_extractor.policy_net[1], torch.nn.ReLU) and policy.ortho_init
    assert torch.allclose(policy.log_std, torch.full((1,), -0.5))
    assert policy.optimizer.param_groups[0]["eps"] == 1e-5
    assert (env.norm_obs, env.norm_reward, env.gamma) == (True, True, 0.95)
    scaler = RewardScaler(1, 0.95)
    assert (env.clip_reward, env.epsilon) == (scaler.clip, scaler.stats.eps)


def test_ppo_twin_trains_every_rollout_at_the_learning_rate_rlpipe_gives_it():
    spec = spec_of("ppo", "pendulum", *PPO)
    model, _ = twin_of(spec)
    envs = make_vec_env(spec.env, 0, rescale_actions=False)
    agent = build_agent(spec, env_shapes(envs), torch.device("cpu"))
    envs.close()
    rollout, max_frame = 64 * 2, 1280
    for k in range(max_frame // rollout):
        rlpipe_lr = agent.set_learning_rate(k * rollout).item()
        # SB3 reads the schedule once the rollout is collected: progress 1 - (k+1) R / T
        assert model.lr_schedule(1 - (k + 1) * rollout / max_frame) == pytest.approx(rlpipe_lr)


def test_twins_schedule_keeps_schedule_frames_when_the_run_is_shorter():
    # Tuned for 2560 frames, trained 1280: the last rollout trains at 1 - 1152/2560 of the lr.
    spec = spec_of("ppo", "pendulum", *PPO, "algorithm.schedule_frames=2560")
    model, _ = twin_of(spec)
    assert model.lr_schedule(0.0) == pytest.approx(1e-3 * (1 - 1152 / 2560))


DQN = [
    "env.max_frame=2000", "algorithm.batch_size=16", "algorithm.learning_starts=100",
    "algorithm.utd=0.5", "algorithm.lr=1e-3", "algorithm.adam_eps=1e-6", "algorithm.tau=0.5",
    "algorithm.target_update_interval=20", "algorithm.gamma=0.9", "algorithm.max_grad_norm=5",
    "algorithm.epsilon_start=0.9", "algorithm.epsilon_end=0.1", "algorithm.exploration_fraction=0.5",
    "algorithm.q_net.hidden=[32, 16]", "algorithm.q_net.activation=tanh", "memory.capacity=1500",
]  # fmt: skip


def test_dqn_twin_has_the_specs_settings_read_back_from_the_sb3_model():
    spec = spec_of("dqn", "cartpole", *DQN)  # schedule_frames 1e4: epsilon over 5,000 frames
    model, _ = twin_of(spec)
    assert (model.batch_size, model.learning_starts, model.buffer_size) == (16, 100, 1500)
    assert (model.train_freq.frequency, model.gradient_steps) == (2, 1)
    assert (model.tau, model.gamma, model.max_grad_norm) == (0.5, 0.9, 5)
    assert model.target_update_interval == 40  # 20 updates at one update per 2 frames
    assert model.exploration_schedule(1.0) == pytest.approx(0.9)
    # SB3's schedule runs over a fraction of the 2000-frame run: 5,000 / 2000 of it.
    assert model.exploration_schedule(0.0) == pytest.approx(0.9 - 0.8 * 2000 / 5_000)
    assert linear_widths(model.q_net) == [32, 16, 2]
    assert isinstance(model.q_net.q_net[1], torch.nn.Tanh)
    assert model.policy.optimizer.param_groups[0]["eps"] == 1e-6
    assert model.policy.optimizer.param_groups[0]["lr"] == 1e-3


def test_dqn_twin_evaluates_epsilon_greedily_as_rlpipes_dqn():
    from rlpipe.peers.train import TwinAgent

    spec = spec_of("dqn", "cartpole", *DQN, "algorithm.eval_epsilon=0.5")
    model, env = twin_of(spec)
    agent = TwinAgent(model, env, spec, seed=3)
    obs = np.zeros((4000, 4), dtype=np.float32)
    greedy = model.predict(obs, deterministic=True)[0]
    actions = agent.act(obs, deterministic=True)
    # Half the actions are random, and half of those differ from the greedy one.
    assert (actions != greedy).mean() == pytest.approx(0.25, abs=0.03)


A2C = [
    "env.max_frame=640", "env.num_envs=4", "algorithm.num_steps=8", "algorithm.gamma=0.95",
    "algorithm.gae_lambda=0.9", "algorithm.ent_coef=0.01", "algorithm.vf_coef=0.4",
    "algorithm.max_grad_norm=0.7", "algorithm.optimizer_eps=1e-4", "algorithm.ortho_init=false",
    "algorithm.normalize_advantage=true",
]  # fmt: skip


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_a2c_twin_has_the_specs_settings_read_back_from_the_sb3_model(optimizer):
    spec = spec_of("a2c", "pendulum", *A2C, f"algorithm.optimizer={optimizer}")
    model, _ = twin_of(spec)
    assert (model.n_steps, model.n_envs, model.gamma, model.gae_lambda) == (8, 4, 0.95, 0.9)
    assert (model.ent_coef, model.vf_coef, model.max_grad_norm) == (0.01, 0.4, 0.7)
    assert model.normalize_advantage is True and not model.policy.ortho_init
    group = model.policy.optimizer.param_groups[0]
    assert group["eps"] == 1e-4
    kind = torch.optim.RMSprop if optimizer == "rmsprop" else torch.optim.Adam
    assert isinstance(model.policy.optimizer, kind)
    if optimizer == "rmsprop":
        assert group["alpha"] == 0.99
    # lr 1e-3 annealed over schedule_frames 8192, of which this run trains 640 frames.
    assert model.lr_schedule(0.0) == pytest.approx(1e-3 * (1 - (640 - 32) / 8192))


def test_ppo_without_gradient_clipping_is_an_infinite_clip_norm_and_without_annealing_constant():
    spec = spec_of("ppo", "pendulum", "max_frame=4096", "algorithm.max_grad_norm=null")
    model, _ = twin_of(spec)
    assert model.max_grad_norm == float("inf")
    assert model.lr_schedule(1.0) == model.lr_schedule(0.0) == spec.algorithm.lr


def test_ppo_twin_takes_discrete_actions():
    model, _ = twin_of(spec_of("ppo", "cartpole", "max_frame=512"))
    assert model.action_space.n == 2 and model.n_envs == 2


def test_every_algorithm_with_a_peer_in_the_registry_has_a_twin():
    peers = {entry.peer for entry in ALGORITHMS.values() if entry.peer}
    assert peers == set(sb3.TWINS)


@pytest.mark.parametrize(
    "family,spec,overrides,field",
    [
        ("sac", "pendulum", ["algorithm.policy_delay=2"], "algorithm.policy_delay 2"),
        (
            "sac",
            "pendulum",
            ["algorithm.target_update_interval=2"],
            "algorithm.target_update_interval",
        ),
        ("sac", "pendulum", ["algorithm.critic.norm=layer"], "algorithm.critic.norm"),
        ("sac", "pendulum", ["algorithm.max_grad_norm=10"], "algorithm.max_grad_norm"),
        ("sac", "pendulum", ["algorithm.utd=1.5"], "algorithm.utd 1.5"),
        ("sac", "pendulum", ["algorithm.utd=0.5", "max_frame=1001"], "env.max_frame 1001"),
        ("sac", "cartpole", [], "env.id CartPole-v1 has discrete actions"),
        ("crossq", "pendulum", ["algorithm.actor.norm=layer"], "algorithm.actor.norm layer"),
        ("crossq", "pendulum", ["algorithm.critic.activation=tanh"], "algorithm.critic.activation"),
        ("crossq", "pendulum", ["algorithm.log_std_min=-5"], "algorithm.log_std_min"),
        ("ppo", "pendulum", ["algorithm.clip_value_loss=true"], "algorithm.clip_value_loss"),
        ("ppo", "pendulum", ["algorithm.target_kl=0.02"], "algorithm.target_kl"),
        ("ppo", "pendulum", ["algorithm.shared_network=true"], "algorithm.shared_network"),
        (
            "ppo",
            "pendulum",
            ["max_frame=5000"],
            "env.max_frame 5000 is not a whole number of rollouts",
        ),
        ("ppo", "breakout", [], "env.atari"),
        ("dqn", "cartpole", ["algorithm.double_q=true"], "algorithm.double_q"),
        ("dqn", "cartpole", ["algorithm.loss=mse"], "algorithm.loss mse"),
        ("dqn", "cartpole", ["algorithm.q_net.norm=layer"], "algorithm.q_net.norm"),
        ("dqn", "cartpole", ["algorithm.utd=0.3"], "algorithm.utd 0.3"),
        (
            "dqn",
            "cartpole",
            ["algorithm.utd=2", "algorithm.target_update_interval=3"],
            "algorithm.target_update_interval 3",
        ),
        ("a2c", "cartpole", ["algorithm.shared_network=true"], "algorithm.shared_network"),
        ("a2c", "pendulum", ["env.max_frame=1000"], "not a whole number of rollouts"),
    ],
)
def test_a_setting_the_twin_cannot_mirror_is_named(family, spec, overrides, field):
    assert field in sb3_unsupported(spec_of(family, spec, *overrides))


def test_the_fixture_specs_that_the_twin_mirrors_have_no_complaint():
    # The cases above add one setting each to these; the production specs the suite's parity
    # rows train: test_real_pipelines_the_suites_specs_that_the_twin_mirrors_have_no_complaint.
    assert sb3_unsupported(spec_of("crossq", "hopper")) is None
    assert sb3_unsupported(spec_of("crossq", "pendulum")) is None
    assert sb3_unsupported(spec_of("sac", "pendulum")) is None
    assert sb3_unsupported(spec_of("ppo", "pendulum")) is None
    assert sb3_unsupported(spec_of("dqn", "cartpole")) is None
    assert sb3_unsupported(spec_of("a2c", "pendulum")) is None
    assert sb3_unsupported(spec_of("a2c", "cartpole")) is None


def test_versions_are_those_of_the_libraries_that_train_the_twin():
    crossq, sac = spec_of("crossq", "pendulum"), spec_of("sac", "pendulum")
    assert set(installed_versions(crossq)) == {"stable-baselines3", "sb3-contrib"}
    assert set(installed_versions(sac)) == {"stable-baselines3"}
    record = peer_record(crossq, "sb3")
    assert (record["library"], record["implementation"]) == ("sb3-contrib", "sb3_contrib:CrossQ")
    assert record["version"] == installed_versions(crossq)["sb3-contrib"]


def test_pinned_versions_must_be_the_installed_ones():
    spec = spec_of("crossq", "pendulum")
    check_version_pins(spec, version_pins(spec))
    check_version_pins(spec, ())
    installed = installed_versions(spec)["sb3-contrib"]
    stale = tuple(
        p.replace(installed, "0.0.1") if "contrib" in p else p for p in version_pins(spec)
    )
    with pytest.raises(RlpipeError, match=rf"sb3-contrib {installed} is installed.*suite stages"):
        check_version_pins(spec, stale)
    with pytest.raises(RlpipeError, match="pins \\['stable-baselines3'\\]"):
        check_version_pins(spec, version_pins(spec)[:1])
    with pytest.raises(RlpipeError, match="expected a pin like"):
        check_version_pins(spec, ("sb3-contrib",))


def test_unknown_peer_is_an_error_listing_the_known_ones():
    check_peer("sb3")
    with pytest.raises(RlpipeError, match="unknown peer 'sb4'; known: sb3"):
        check_peer("sb4")
    assert list(PEERS) == ["sb3"]
