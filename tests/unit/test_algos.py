"""SAC and CrossQ pieces checked against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from rlpipe.algos.nets.batchrenorm import BatchRenorm
from rlpipe.algos.nets.soft_policies import SquashedGaussianActor
from rlpipe.algos.registry import build_agent
from rlpipe.buffers import Batch
from rlpipe.envs import EnvShapes, env_shapes, make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.loops.evaluate import evaluate
from rlpipe.spec import resolve_spec
from rlpipe.spec.schema import BatchRenormSpec, CrossQSpec, NetSpec

CONTINUOUS = EnvShapes((3,), np.dtype("float32"), False, 2)
DISCRETE = EnvShapes((4,), np.dtype("float32"), True, 3)
SMALL = ["algorithm.actor.hidden=[16]", "algorithm.critic.hidden=[32, 32]"]


def agent_for(fixture_pipelines, family, shapes, extra=()):
    name = "cartpole" if shapes.discrete else "pendulum"
    spec = resolve_spec(family, name, [*SMALL, *extra], fixture_pipelines).spec
    torch.manual_seed(0)
    return build_agent(spec, shapes, torch.device("cpu"))


def batch_for(shapes, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, *shapes.obs_shape, generator=g)
    if shapes.discrete:
        actions = torch.randint(0, shapes.action_dim, (n,), generator=g)
    else:
        actions = torch.rand(n, shapes.action_dim, generator=g) * 2 - 1
    return Batch(obs, actions, torch.randn(n, generator=g),
                 torch.randn(n, *shapes.obs_shape, generator=g),
                 (torch.rand(n, generator=g) < 0.25).float())  # fmt: skip


def test_squashed_gaussian_log_prob_matches_torch_tanh_distribution():
    torch.manual_seed(0)
    actor = SquashedGaussianActor(3, 2, NetSpec(hidden=[8]), (-20.0, 2.0))
    obs = torch.randn(5, 3)
    torch.manual_seed(1)
    action, log_prob = actor(obs)
    mean, log_std = actor._mean_log_std(obs)
    reference = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()])
    expected = reference.log_prob(action.clamp(-1 + 1e-6, 1 - 1e-6)).sum(-1)
    assert torch.allclose(log_prob, expected, atol=1e-3)
    assert action.abs().max() <= 1.0


def test_squashed_gaussian_log_prob_is_finite_when_saturated():
    actor = SquashedGaussianActor(1, 1, NetSpec(hidden=[4]), (-20.0, 2.0))
    with torch.no_grad():
        actor.net[-1].bias.copy_(torch.tensor([50.0, -20.0]))  # mean 50, tiny std
    action, log_prob = actor(torch.zeros(4, 1))
    assert torch.all(action == 1.0) and torch.isfinite(log_prob).all()


def test_sac_targets_follow_polyak_averaging(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "sac", CONTINUOUS, ["algorithm.tau=0.25"])
    before = [p.detach().clone() for p in agent.critic_targets.parameters()]
    agent.update(batch_for(CONTINUOUS))
    for old, target, online in zip(before, agent.critic_targets.parameters(),
                                   agent.critics.parameters(), strict=True):  # fmt: skip
        assert torch.allclose(target, 0.75 * old + 0.25 * online, atol=1e-6)


def test_sac_critic_target_uses_min_over_target_critics_and_bootstraps_truncation(
    fixture_pipelines,
):
    agent = agent_for(fixture_pipelines, "sac", CONTINUOUS)
    batch = batch_for(CONTINUOUS)
    torch.manual_seed(5)
    _, q = agent.critic_loss(batch.obs, batch.next_obs, batch)
    torch.manual_seed(5)
    with torch.no_grad():
        next_action, next_log_prob = agent.actor(batch.next_obs)
        q_next = agent.q_values(agent.critic_targets, batch.next_obs, next_action).min(0).values
        expected = batch.rewards + 0.99 * (1 - batch.terminated) * (
            q_next - agent.alpha * next_log_prob
        )
    torch.manual_seed(5)
    loss, _ = agent.critic_loss(batch.obs, batch.next_obs, batch)
    manual = 0.5 * sum(((qi - expected) ** 2).mean() for qi in q)
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)


def test_discrete_sac_target_is_the_exact_expectation_over_the_policy(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "sac", DISCRETE)
    batch = batch_for(DISCRETE)
    with torch.no_grad():
        probs, log_probs = agent.actor(batch.next_obs)
        q_next = torch.stack([q(batch.next_obs) for q in agent.critic_targets]).min(0).values
        v_next = (probs * (q_next - agent.alpha * log_probs)).sum(-1)
        expected = batch.rewards + 0.99 * (1 - batch.terminated) * v_next
        q = agent.q_values(agent.critic_targets, batch.next_obs, None)
        assert q.shape == (2, 8, 3)
        got = agent.soft_target(q, (probs, log_probs), batch)
    assert torch.allclose(got, expected)


def test_crossq_has_no_target_networks_and_its_betas_come_from_the_spec(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS)
    assert agent.critic_targets is None
    assert agent.critic_optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    assert sum(isinstance(m, BatchRenorm) for m in agent.critics[0].modules()) == 3


def test_crossq_critic_statistics_come_from_one_pass_over_both_halves(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS, ["algorithm.policy_delay=1"])
    batch = batch_for(CONTINUOUS, n=16)
    torch.manual_seed(3)
    with torch.no_grad():
        next_action, _ = agent.actor(batch.next_obs)
    torch.manual_seed(3)
    agent.update(batch)
    first = agent.critics[0][0]  # the input BatchRenorm sees [s, a] and [s', a']
    assert first.num_batches_tracked.item() == 1  # one pass; the actor update ran in eval mode
    both = torch.cat([torch.cat([batch.obs, batch.actions], -1),
                      torch.cat([batch.next_obs, next_action], -1)])  # fmt: skip
    assert torch.allclose(first.running_mean, 0.01 * both.mean(0), atol=1e-6)
    half = torch.cat([batch.obs, batch.actions], -1)
    assert not torch.allclose(first.running_mean, 0.01 * half.mean(0), atol=1e-4)


def test_crossq_actor_update_leaves_critic_statistics_alone(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS)
    agent.update(batch_for(CONTINUOUS))
    before = {k: v.clone() for k, v in agent.critics.state_dict().items()}
    agent.update_actor_and_alpha(agent.prepare(batch_for(CONTINUOUS, seed=1).obs))
    after = agent.critics.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert agent.critics.training


def test_policy_delay_updates_the_actor_every_nth_critic_update(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS, ["algorithm.policy_delay=3"])
    with_actor = ["loss_actor" in agent.update(batch_for(CONTINUOUS, seed=i)) for i in range(6)]
    assert with_actor == [True, False, False, True, False, False]


def test_log_alpha_is_clamped_to_its_bounds(fixture_pipelines):
    extra = ["algorithm.alpha_lr=10", "algorithm.log_alpha_max=0.5", "algorithm.init_alpha=1.0"]
    agent = agent_for(
        fixture_pipelines, "sac", CONTINUOUS, [*extra, "algorithm.target_entropy=100"]
    )
    for i in range(5):
        agent.update(batch_for(CONTINUOUS, seed=i))
    assert agent.log_alpha.item() == pytest.approx(0.5)


def test_target_entropy_auto_is_minus_action_dim_or_scaled_log_n(fixture_pipelines):
    assert agent_for(fixture_pipelines, "sac", CONTINUOUS).target_entropy == -2.0
    discrete = agent_for(fixture_pipelines, "sac", DISCRETE)  # target_entropy_scale 0.8
    assert discrete.target_entropy == pytest.approx(0.8 * math.log(3))


def test_agent_state_dict_round_trip_restores_actions(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS, ["env.normalize_obs=true"])
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    agent.observe(obs * 5 + 2)
    agent.update(batch_for(CONTINUOUS))
    clone = agent_for(fixture_pipelines, "crossq", CONTINUOUS, ["env.normalize_obs=true"])
    clone.load_state_dict(agent.state_dict())
    assert np.array_equal(agent.act(obs, deterministic=True), clone.act(obs, deterministic=True))
    assert torch.equal(agent.obs_norm.mean, clone.obs_norm.mean)


def renorm_statistics(module):
    """Every BatchRenorm running statistic in module, cloned."""
    return {
        k: v.clone()
        for k, v in module.state_dict().items()
        if k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    }


def assert_same(before, after):
    assert before.keys() == after.keys() and before
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("family", ["crossq", "sac"])
def test_batch_renorm_actor_acts_with_one_env_and_acting_or_evaluating_leaves_its_statistics(
    fixture_pipelines, family
):
    spec = resolve_spec(family, "pendulum", [*SMALL, "algorithm.actor.norm=batch_renorm"],
                        fixture_pipelines).spec  # fmt: skip
    envs = make_vec_env(spec.env, seed=0, num_envs=2, rescale_actions=True)
    torch.manual_seed(0)
    agent = build_agent(spec, env_shapes(envs), torch.device("cpu"))
    assert sum(isinstance(m, BatchRenorm) for m in agent.actor.modules()) == 2
    before = renorm_statistics(agent.actor)
    one_env = np.zeros((1, 3), dtype=np.float32)
    assert agent.act(one_env).shape == agent.act(one_env, deterministic=True).shape == (1, 1)
    agent.act(np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32))
    assert math.isfinite(evaluate(agent, envs, seed=5))
    envs.close()
    assert_same(before, renorm_statistics(agent.actor))


def test_batch_renorm_actor_is_trained_by_its_own_loss_only(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS, ["algorithm.policy_delay=2"])
    first = agent.actor.net[0]  # BatchRenorm on the actor's input: the observations
    assert isinstance(first, BatchRenorm) and not agent.actor.training
    batch = batch_for(CONTINUOUS, n=16)
    assert "loss_actor" in agent.update(batch)  # critic step (next actions), then actor step
    assert first.num_batches_tracked.item() == 1  # the actor loss only; a' used eval mode
    assert torch.allclose(first.running_mean, 0.01 * batch.obs.mean(0), atol=1e-6)
    assert not agent.actor.training  # back to running statistics for acting
    before = renorm_statistics(agent.actor)
    assert "loss_actor" not in agent.update(batch_for(CONTINUOUS, n=16, seed=1))
    assert_same(before, renorm_statistics(agent.actor))  # a critic step samples a' only


def test_next_actions_of_the_critic_target_use_the_actors_running_statistics(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS)
    agent.update(batch_for(CONTINUOUS, n=16))  # moves the running statistics off their start
    next_obs = batch_for(CONTINUOUS, n=16, seed=2).next_obs
    torch.manual_seed(4)
    sampled, _ = agent.next_action(next_obs)
    torch.manual_seed(4)
    with torch.no_grad():
        expected, _ = agent.actor.eval()(next_obs)
        agent.actor.train()
        torch.manual_seed(4)
        batch_stats, _ = agent.actor(next_obs)
        agent.actor.eval()
    assert torch.allclose(sampled, expected) and not torch.allclose(sampled, batch_stats)


def test_temperature_adam_betas_are_adams_own_unless_the_spec_says_otherwise(fixture_pipelines):
    crossq = agent_for(fixture_pipelines, "crossq", CONTINUOUS)
    assert crossq.actor_optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    assert crossq.alpha_optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    old = agent_for(
        fixture_pipelines, "crossq", CONTINUOUS, ["algorithm.alpha_adam_betas=[0.5, 0.999]"]
    )
    assert old.alpha_optimizer.param_groups[0]["betas"] == (0.5, 0.999)


def test_crossq_actor_has_batch_renorm_by_default_in_the_schema():
    # The production pipeline's CrossQ actors: test_repo_pipelines.py.
    assert CrossQSpec(name="crossq").actor.norm == BatchRenormSpec()
    assert CrossQSpec(name="crossq").critic.norm == BatchRenormSpec()


def test_crossq_actor_norm_and_widths_come_from_the_pipeline_file(fixture_pipelines):
    for name in ("hopper", "pendulum"):
        algo = resolve_spec("crossq", name, [], fixture_pipelines).spec.algorithm
        assert algo.actor.norm == algo.critic.norm == BatchRenormSpec(warmup_steps=1000)
        assert algo.actor.hidden == [32, 32]


def test_batch_renorm_with_a_batch_of_one_is_rejected_before_training(fixture_pipelines):
    with pytest.raises(
        RlpipeError, match=r"actor.norm is batch_renorm, which needs batch_size >= 2"
    ):
        resolve_spec("crossq", "pendulum", ["algorithm.batch_size=1"], fixture_pipelines)
