"""Repo-data tests: the real pipelines/ specs, the committed suite and dvc.yaml, the shipped YAML.

These are the unit tests that read the production pipelines/ folder (the `pipelines_dir`
fixture). They check data, not code: which specs ship, that each resolves, the values the
specs cite from RL Zoo, CleanRL, SB3 or the CrossQ paper, and that the committed dvc.yaml is
the suite's. Retuning a production spec changes tests here and nowhere else in tests/unit;
tests of code behaviour read the fixture pipelines in tests/pipelines/ (`fixture_pipelines`).
"""

from __future__ import annotations

import pytest

from rlpipe.spec import Spec, check_all, load_suite, resolve_spec, spec_hash
from rlpipe.spec.schema import BatchRenormSpec
from rlpipe.spec.yaml12 import read_yaml_file
from rlpipe.stages import render_dvc_yaml
from tests.conftest import REPO

FAMILIES = ["crossq", "sac", "ppo", "a2c", "dqn"]
ALL_SPECS = [
    "cartpole", "acrobot", "pendulum", "lunarlander", "lunarlandercontinuous", "ant",
    "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverteddoublependulum",
    "invertedpendulum", "pusher", "reacher", "swimmer", "walker2d",
]  # fmt: skip
README_SPECS = {"crossq": ["pendulum-quick"]}
"""Specs of one family only: the README's first run (a Pendulum policy in about 3 minutes)."""
GAMES = ["breakout", "mspacman", "pong", "qbert", "seaquest", "spaceinvaders"]
MUJOCO = ["ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup",
          "inverteddoublependulum", "invertedpendulum", "pusher", "reacher", "swimmer", "walker2d"]  # fmt: skip


# ------------------------------------------------------------- which specs ship, all resolve


@pytest.mark.parametrize("family", ["crossq", "sac"])
def test_real_pipelines_crossq_and_sac_have_every_starter_spec_and_each_resolves(
    pipelines_dir, family
):
    results = [c for c in check_all(pipelines_dir, [family])]
    assert [c.name for c in results] == ALL_SPECS + README_SPECS.get(family, [])
    assert all(c.error is None for c in results), [c.error for c in results if c.error]


@pytest.mark.parametrize("family", FAMILIES)
def test_real_pipelines_every_spec_resolves_and_revalidates_to_its_hash(pipelines_dir, family):
    results = check_all(pipelines_dir, [family])
    assert all(c.error is None for c in results), [c.error for c in results if c.error]
    for check in results:
        dumped = check.resolved.spec.model_dump(mode="json")
        assert spec_hash(Spec.model_validate(dumped)) == check.resolved.spec_hash


def test_real_pipelines_families_cover_the_crossq_envs_and_six_atari_games(pipelines_dir):
    names = {c.family: {c.name for c in check_all(pipelines_dir, [c.family])}
             for c in check_all(pipelines_dir, ["crossq", "ppo", "a2c", "dqn"])}  # fmt: skip
    envs = names["crossq"] - {"pendulum-quick"}  # the README's first run, CrossQ only
    assert names["ppo"] == envs | set(GAMES)
    assert names["a2c"] == envs
    assert names["dqn"] == {"cartpole", "acrobot", "lunarlander", *GAMES}


# ------------------------------------------------------------- values the specs cite


def test_real_pipelines_crossq_hopper_resolves_to_reference_hyperparameters(pipelines_dir):
    spec = resolve_spec("crossq", "hopper", [], pipelines_dir).spec
    algo = spec.algorithm
    assert (spec.family, spec.name, spec.env.id) == ("crossq", "hopper", "Hopper-v5")
    assert algo.name == "crossq"
    assert algo.adam_betas == (0.5, 0.999)
    assert (algo.actor_lr, algo.critic_lr, algo.batch_size, algo.policy_delay) == (
        1e-3, 1e-3, 256, 3
    )  # fmt: skip
    norm = algo.critic.norm
    assert (norm.type, norm.momentum, norm.r_max, norm.d_max, norm.eps) == (
        "batch_renorm", 0.01, 3.0, 5.0, 1e-3
    )  # fmt: skip
    assert norm.warmup_steps == 100_000
    assert algo.actor.hidden == [256, 256]
    assert spec.memory.capacity == 1_000_000
    assert algo.learning_starts == 5000


def test_real_pipelines_crossq_actors_have_batch_renorm_and_256_wide_layers(pipelines_dir):
    for name in ("hopper", "pendulum"):
        algo = resolve_spec("crossq", name, [], pipelines_dir).spec.algorithm
        assert algo.actor.norm == algo.critic.norm == BatchRenormSpec()
        assert algo.actor.hidden == [256, 256]


def test_real_pipelines_a2c_pendulum_resolves_rl_zoos_gamma_and_init(pipelines_dir):
    spec = resolve_spec("a2c", "pendulum", [], pipelines_dir).spec
    algo = spec.algorithm
    assert algo.gamma == 0.9  # RL Zoo's Pendulum-v1 A2C entry; 0.99 before this was caught
    assert (algo.num_steps, algo.gae_lambda, algo.vf_coef, algo.lr) == (8, 0.9, 0.4, 7e-4)
    assert algo.anneal_lr and algo.normalize_reward and spec.env.normalize_obs
    assert algo.ortho_init is False and algo.log_std_init is None  # no gSDE here: log std 0
    assert spec.env.num_envs == 8 and spec.env.max_frame == 1_000_000


@pytest.mark.parametrize("name", MUJOCO)
def test_real_pipelines_a2c_mujoco_specs_are_sb3_defaults_with_normalisation(pipelines_dir, name):
    spec = resolve_spec("a2c", name, [], pipelines_dir).spec
    algo = spec.algorithm
    assert (algo.num_steps, algo.lr, algo.gae_lambda, algo.vf_coef, algo.ent_coef) == (
        5, 7e-4, 1.0, 0.5, 0.0)  # fmt: skip
    assert (algo.optimizer, algo.max_grad_norm, algo.anneal_lr) == ("rmsprop", 0.5, False)
    assert algo.ortho_init and algo.log_std_init is None and not algo.normalize_advantage
    assert algo.normalize_reward and spec.env.normalize_obs and spec.env.num_envs == 1
    assert algo.gamma == (0.9999 if name == "swimmer" else 0.99)
    assert spec.env.max_frame == (2_000_000 if name == "humanoid" else 1_000_000)


def test_real_pipelines_the_suites_specs_that_the_twin_mirrors_have_no_complaint(pipelines_dir):
    pytest.importorskip("sb3_contrib")
    from rlpipe.peers.mirror import sb3_unsupported

    def spec_of(family, spec, *overrides):
        return resolve_spec(family, spec, list(overrides), pipelines_dir).spec

    assert sb3_unsupported(spec_of("crossq", "hopper")) is None
    assert sb3_unsupported(spec_of("sac", "pendulum")) is None
    assert sb3_unsupported(spec_of("ppo", "pendulum", "max_frame=4096")) is None
    assert sb3_unsupported(spec_of("dqn", "lunarlander")) is None
    # CleanRL's squared TD error, which SB3's DQN lacks: the suite has no DQN CartPole twin.
    assert "algorithm.loss mse" in (sb3_unsupported(spec_of("dqn", "cartpole")) or "")
    assert sb3_unsupported(spec_of("a2c", "pendulum", "env.max_frame=299968")) is None


# ------------------------------------------------------------- committed and shipped files


def test_real_pipelines_the_committed_dvc_yaml_is_the_suites(pipelines_dir):
    suite_path = REPO / "params" / "suite.yaml"
    expected = render_dvc_yaml(load_suite(suite_path), suite_path.relative_to(REPO),
                               pipelines_dir)  # fmt: skip
    assert (REPO / "dvc.yaml").read_text() == expected, "run `rlpipe suite stages`"


def test_real_pipelines_the_cpu_tier_holds_the_committed_suite_and_the_readmes_count():
    tier = load_suite(REPO / "params" / "suite-cpu.yaml").runs
    committed = load_suite(REPO / "params" / "suite.yaml").runs
    assert {key: tier.get(key) for key in committed} == committed  # each entry copied as planned
    readme = (REPO / "README.md").read_text()
    assert f"holds the whole tier ({len(tier)} entries," in readme


def test_real_pipelines_every_shipped_yaml_file_reads_within_the_limits(pipelines_dir):
    files = sorted(pipelines_dir.glob("*.yaml")) + sorted((REPO / "params").glob("*.yaml"))
    assert len(files) >= 7
    for path in files:
        assert isinstance(read_yaml_file(path), dict), path
    for path in sorted((REPO / "params").glob("suite*.yaml")):
        assert load_suite(path).runs


def test_real_pipelines_crossq_discrete_specs_take_slm_labs_entropy_target(pipelines_dir):
    for name in ("cartpole", "acrobot", "lunarlander"):
        algo = resolve_spec("crossq", name, [], pipelines_dir).spec.algorithm
        assert algo.target_entropy_scale == 0.6, name


def test_real_pipelines_crossq_layernorm_actors_are_slm_labs_set(pipelines_dir):
    layer_norm = {"halfcheetah", "walker2d", "ant", "humanoid", "humanoidstandup"}
    for name in ("ant", "halfcheetah", "humanoid", "humanoidstandup", "pusher", "reacher",
                 "swimmer", "walker2d"):  # fmt: skip
        norm = resolve_spec("crossq", name, [], pipelines_dir).spec.algorithm.actor.norm
        assert (norm.type == "layer") == (name in layer_norm), (name, norm)
