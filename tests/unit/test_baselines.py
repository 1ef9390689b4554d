"""PPO, A2C and DQN pieces checked against their formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlpipe.algos.nets.batchrenorm import BatchRenorm
from rlpipe.algos.registry import build_agent
from rlpipe.buffers import Batch
from rlpipe.envs import EnvShapes, env_shapes, make_vec_env
from rlpipe.loops.evaluate import evaluate
from rlpipe.spec import resolve_spec

DISCRETE = EnvShapes((4,), np.dtype("float32"), True, 3)
CONTINUOUS = EnvShapes((3,), np.dtype("float32"), False, 2, ((-1.0, -1.0), (1.0, 1.0)))
FRAMES = EnvShapes((4, 84, 84), np.dtype("uint8"), True, 6)


def agent_for(fixture_pipelines, family, spec_name, shapes, extra=()):
    spec = resolve_spec(family, spec_name, list(extra), fixture_pipelines).spec
    torch.manual_seed(0)
    return build_agent(spec, shapes, torch.device("cpu"))


def test_ppo_clipped_surrogate_matches_the_formula(fixture_pipelines):
    ppo = agent_for(
        fixture_pipelines, "ppo", "cartpole", DISCRETE, ["algorithm.clip_value_loss=true"]
    )
    obs, actions = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        logprobs, _, values = ppo.net.evaluate(obs, actions)
    old_logprobs = logprobs + torch.tensor([0.5, -0.5, 0.05, 0.0, 0.3, -0.3])
    advantages = torch.tensor([1.0, -1.0, 2.0, 0.5, -2.0, 1.5])
    returns = values + 1.0
    old_values = values - 0.5
    ppo.spec = ppo.spec.model_copy(update={"normalize_advantage": False})
    terms = ppo.losses(obs, actions, old_logprobs, old_values, advantages, returns)
    ratio = (logprobs - old_logprobs).exp()
    expected = -torch.min(advantages * ratio, advantages * ratio.clamp(0.8, 1.2)).mean()
    torch.testing.assert_close(terms["loss_actor"], expected)
    # Clipped value: old + clamp(V - old, -0.2, 0.2) = V - 0.3; max((1)^2, (1.3)^2), with no
    # 0.5 factor: SB3's value term (vf_coef x MSE).
    torch.testing.assert_close(terms["loss_critic"], torch.tensor(1.3**2))
    assert terms["clip_fraction"].item() == pytest.approx(4 / 6)


def test_ppo_gaussian_actions_are_clipped_for_the_env_only(fixture_pipelines):
    ppo = agent_for(fixture_pipelines, "ppo", "hopper", CONTINUOUS)
    actions = torch.tensor([[3.0, -0.5], [-2.0, 0.25]])
    np.testing.assert_array_equal(ppo.env_actions(actions), [[1.0, -0.5], [-1.0, 0.25]])
    logprob, _, _ = ppo.net.evaluate(torch.zeros(2, 3), actions)
    assert logprob[0] < logprob[1]  # unclipped samples keep their own log-probability


def test_shared_network_on_frames_uses_one_nature_cnn(fixture_pipelines):
    ppo = agent_for(fixture_pipelines, "ppo", "breakout", FRAMES)
    assert ppo.net.actor_body is ppo.net.critic_body
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    actions, logprobs, values = ppo.sample(frames)
    assert actions.shape == logprobs.shape == values.shape == (2,)
    # Nature CNN 1_684_128 + policy head 512 * 6 + 6 + value head 512 + 1.
    assert sum(p.numel() for p in ppo.net.parameters()) == 1_687_719


def test_a2c_takes_one_rmsprop_step_per_rollout(fixture_pipelines):
    a2c = agent_for(fixture_pipelines, "a2c", "cartpole", DISCRETE)
    assert isinstance(a2c.optimizer, torch.optim.RMSprop)
    assert a2c.optimizer.defaults["alpha"] == 0.99 and a2c.optimizer.defaults["eps"] == 1e-5


def dqn_batch(n=8):
    g = torch.Generator().manual_seed(0)
    return Batch(torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g),
                 torch.randn(n, generator=g), torch.randn(n, 4, generator=g),
                 (torch.rand(n, generator=g) < 0.3).float())  # fmt: skip


@pytest.mark.parametrize("double_q", [False, True])
def test_dqn_target_uses_target_network_and_double_q_picks_online_argmax(
    fixture_pipelines, double_q
):
    dqn = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE,
                    [f"algorithm.double_q={str(double_q).lower()}", "algorithm.loss=mse"])  # fmt: skip
    with torch.no_grad():
        for p in dqn.q_target.parameters():
            p.mul_(0.5)
    batch = dqn_batch()
    with torch.no_grad():
        q_next = dqn.q_target(batch.next_obs)
        if double_q:
            best = dqn.q_net(batch.next_obs).argmax(-1, keepdim=True)
            v_next = q_next.gather(-1, best).squeeze(-1)
        else:
            v_next = q_next.max(-1).values
        target = batch.rewards + 0.99 * (1 - batch.terminated) * v_next
        q = dqn.q_net(batch.obs).gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
    stats = dqn.update(batch)
    torch.testing.assert_close(stats["loss_critic"], ((q - target) ** 2).mean())


def test_dqn_epsilon_decays_linearly_then_holds(fixture_pipelines):
    # cartpole: 1e4 frames, exploration over the first 20% (2000 frames), 1.0 -> 0.05.
    dqn = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE)
    assert dqn.epsilon == 1.0
    dqn.observe(np.zeros((1000, 4)))
    assert dqn.epsilon == pytest.approx(0.525)
    dqn.observe(np.zeros((8000, 4)))
    assert dqn.epsilon == pytest.approx(0.05)


def test_dqn_epsilon_schedule_keeps_its_frames_when_the_run_is_longer(fixture_pipelines):
    # The same spec trained 4x as long: epsilon still reaches 0.05 at 2000 frames (20% of the
    # 1e4 schedule_frames), not at 20% of the run.
    dqn = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE, ["env.max_frame=4e4"])
    dqn.observe(np.zeros((2000, 4)))
    assert dqn.epsilon == pytest.approx(0.05)
    retimed = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE, ["max_frame=4e4"])
    retimed.observe(np.zeros((2000, 4)))  # the var moves run and schedule together
    assert retimed.epsilon == pytest.approx(1.0 - 0.95 * 2000 / 8000)


def test_annealed_learning_rate_reaches_0_at_schedule_frames_and_stays(fixture_pipelines):
    # pendulum: lr 1e-3 annealed over schedule_frames 8192; the run is twice as long.
    a2c = agent_for(fixture_pipelines, "a2c", "pendulum", CONTINUOUS, ["env.max_frame=16384"])
    rates = [a2c.set_learning_rate(frame).item() for frame in (0, 2_048, 8_192, 12_288)]
    assert rates == pytest.approx([1e-3, 7.5e-4, 0.0, 0.0])


def test_dqn_hard_target_copy_every_interval(fixture_pipelines):
    dqn = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE)  # copy every 16 updates
    for _ in range(15):
        dqn.update(dqn_batch())
    online, target = dqn.q_net[0].weight, dqn.q_target[0].weight
    assert not torch.equal(online, target)
    dqn.update(dqn_batch())
    assert torch.equal(online, target)


def test_dqn_batch_renorm_q_net_acts_with_one_env_and_trains_only_in_the_td_loss(fixture_pipelines):
    dqn = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE,
                    ["algorithm.q_net.norm=batch_renorm", "algorithm.double_q=true"])  # fmt: skip
    first, first_target = dqn.q_net[0], dqn.q_target[0]
    assert isinstance(first, BatchRenorm) and not dqn.q_net.training
    one_env = np.zeros((1, 4), dtype=np.float32)
    assert dqn.act(one_env).shape == dqn.act(one_env, deterministic=True).shape == (1,)
    dqn.act(np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32))
    assert first.num_batches_tracked.item() == 0 and torch.equal(first.running_mean, torch.zeros(4))
    batch = dqn_batch()
    dqn.update(batch)  # target and double-Q argmax in eval mode, the TD loss in train mode
    assert first.num_batches_tracked.item() == 1
    assert torch.allclose(first.running_mean, 0.01 * batch.obs.mean(0), atol=1e-6)
    assert first_target.num_batches_tracked.item() == 0 and not dqn.q_net.training


def test_dqn_evaluation_is_epsilon_greedy_with_cleanrls_005(fixture_pipelines):
    obs = np.ones((6000, 4), dtype=np.float32)
    dqn = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE)
    assert dqn.spec.eval_epsilon == 0.05
    greedy = dqn.q_net(torch.as_tensor(obs[:1])).argmax(-1).item()
    torch.manual_seed(1)
    share_greedy = (dqn.act(obs, deterministic=True) == greedy).mean()
    assert share_greedy == pytest.approx(1 - 0.05 * 2 / 3, abs=0.01)  # 3 actions, 1 is greedy
    pure = agent_for(fixture_pipelines, "dqn", "cartpole", DISCRETE, ["algorithm.eval_epsilon=0"])
    assert (pure.act(obs, deterministic=True) == greedy).all()


@pytest.mark.parametrize("ortho_init", [True, False])
def test_ortho_init_false_keeps_pytorchs_default_initialisation(fixture_pipelines, ortho_init):
    extra = [f"algorithm.ortho_init={str(ortho_init).lower()}"]
    net = agent_for(fixture_pipelines, "a2c", "pendulum", CONTINUOUS, extra).net
    rows = net.policy_head.weight.detach()  # (2, 16): orthogonal rows of norm 0.01 if ortho
    orthogonal = torch.allclose(rows @ rows.T, 1e-4 * torch.eye(2), atol=1e-7)
    assert orthogonal is ortho_init
    if not ortho_init:  # nn.Linear's default: uniform in +-1/sqrt(fan_in)
        assert rows.abs().max() <= 1 / 4 and rows.abs().max() > 0.05


def test_dqn_evaluation_is_reproducible_and_leaves_the_training_random_stream(fixture_pipelines):
    spec = resolve_spec("dqn", "cartpole", ["algorithm.eval_epsilon=0.5"], fixture_pipelines).spec
    envs = make_vec_env(spec.env, seed=0, num_envs=4, rescale_actions=False)
    dqn = build_agent(spec, env_shapes(envs), torch.device("cpu"))
    torch.manual_seed(0)
    training_stream = torch.get_rng_state()
    first = evaluate(dqn, envs, seed=7)
    assert torch.equal(torch.get_rng_state(), training_stream)
    torch.manual_seed(123)  # whatever state training left the generator in
    assert evaluate(dqn, envs, seed=7) == first
    envs.close()
