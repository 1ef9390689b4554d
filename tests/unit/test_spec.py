"""The spec language: lookup, YAML 1.2 numbers, substitution, overrides, validation, hash."""

from __future__ import annotations

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.spec import Spec, canonical_json, check_all, resolve_spec, spec_hash
from rlpipe.spec.yaml12 import parse_yaml

ALL_SPECS = [
    "cartpole", "acrobot", "pendulum", "lunarlander", "lunarlandercontinuous", "ant",
    "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverteddoublependulum",
    "invertedpendulum", "pusher", "reacher", "swimmer", "walker2d",
]  # fmt: skip
README_SPECS = {"crossq": ["pendulum-quick"]}
"""Specs of one family only: the README's first run (a Pendulum policy in about 3 minutes)."""

MINIMAL = """
vars:
  max_frame: 1000
defaults:
  algorithm: {name: sac, batch_size: 32}
  env:
    max_frame: ${max_frame}
  memory: {capacity: 1000}
specs:
  pendulum:
    env: {id: Pendulum-v1}
"""


def error_of(*args, **kwargs) -> str:
    with pytest.raises(RlpipeError) as info:
        resolve_spec(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("family", ["crossq", "sac"])
def test_every_starter_spec_resolves(pipelines_dir, family):
    results = [c for c in check_all(pipelines_dir, [family])]
    assert [c.name for c in results] == ALL_SPECS + README_SPECS.get(family, [])
    assert all(c.error is None for c in results), [c.error for c in results if c.error]


def test_crossq_hopper_resolves_to_reference_hyperparameters(pipelines_dir):
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


def test_yaml12_numbers_in_exponent_form_are_numbers():
    parsed = parse_yaml("a: 4e6\nb: 1e-5\nc: 3.0e+5\nd: yes\ne: true\nf: 0x10", "t.yaml")
    assert parsed == {"a": 4e6, "b": 1e-5, "c": 3e5, "d": "yes", "e": True, "f": 16}


def test_max_frame_override_accepts_exponent_and_integral_float(pipelines_dir):
    assert (
        resolve_spec("crossq", "hopper", ["max_frame=2e5"], pipelines_dir).spec.env.max_frame
        == 200_000
    )
    assert (
        resolve_spec("crossq", "hopper", ["max_frame=2.5e5"], pipelines_dir).spec.env.max_frame
        == 250_000
    )


def test_fractional_seed_count_is_rejected(pipelines_dir):
    message = error_of("crossq", "hopper", ["seeds=2.5"], pipelines_dir)
    assert "key meta.seeds" in message and "fractional part" in message


def test_dotted_field_override_sets_nested_value(pipelines_dir):
    spec = resolve_spec(
        "crossq", "hopper", ["algorithm.critic.hidden=[64, 64]", "meta.base_seed=7"], pipelines_dir
    ).spec
    assert spec.algorithm.critic.hidden == [64, 64]
    assert spec.meta.seed_list == [7, 8, 9, 10]


def test_hash_is_canonical_and_changes_with_any_field(pipelines_dir):
    a = resolve_spec("crossq", "hopper", ["max_frame=2e5"], pipelines_dir)
    b = resolve_spec("crossq", "hopper", ["max_frame=200000"], pipelines_dir)
    c = resolve_spec("crossq", "hopper", ["algorithm.gamma=0.98"], pipelines_dir)
    assert a.spec_hash == b.spec_hash == spec_hash(a.spec)
    assert a.spec_hash != c.spec_hash
    assert len(a.spec_hash) == 64
    text = canonical_json(a.spec)
    assert " " not in text and text.index('"algorithm"') < text.index('"env"')


def test_exact_reference_keeps_type_and_embedded_reference_interpolates(write_pipeline):
    folder = write_pipeline(
        "t",
        MINIMAL.replace("env: {id: Pendulum-v1}", "env: {id: 'Pend${suffix}'}").replace(
            "max_frame: 1000", "max_frame: 1000\n  suffix: ulum-v1"
        ),
    )
    spec = resolve_spec("t", "pendulum", [], folder).spec
    assert spec.env.id == "Pendulum-v1"
    assert spec.env.max_frame == 1000 and isinstance(spec.env.max_frame, int)


def test_spec_level_vars_override_file_vars(write_pipeline):
    folder = write_pipeline(
        "t", MINIMAL.replace("pendulum:\n", "pendulum:\n    vars: {max_frame: 77}\n")
    )
    assert resolve_spec("t", "pendulum", [], folder).spec.env.max_frame == 77
    assert resolve_spec("t", "pendulum", ["max_frame=88"], folder).spec.env.max_frame == 88


# ---------------------------------------------------------------- bad input, one test each


def test_unknown_family_suggests_closest(pipelines_dir):
    message = error_of("crosq", "hopper", [], pipelines_dir)
    assert "unknown family 'crosq'" in message and "did you mean 'crossq'" in message


def test_unknown_spec_suggests_closest(pipelines_dir):
    message = error_of("crossq", "hoper", [], pipelines_dir)
    assert "pipelines/crossq.yaml" in message
    assert "unknown spec 'hoper'" in message and "did you mean 'hopper'" in message


@pytest.mark.parametrize("family,spec", [("../crossq", "hopper"), ("crossq", "a/b"), ("..", "x")])
def test_names_with_slash_or_dotdot_are_rejected(pipelines_dir, family, spec):
    assert "no '/', '..' or paths" in error_of(family, spec, [], pipelines_dir)


def test_malformed_yaml_reports_line_and_column(write_pipeline):
    folder = write_pipeline("bad", "specs:\n  x:\n    env: {id: [unclosed\n")
    message = error_of("bad", "x", [], folder)
    assert "bad.yaml:4:1" in message and "malformed YAML" in message


def test_duplicate_yaml_key_is_an_error(write_pipeline):
    folder = write_pipeline("dup", MINIMAL + "  pendulum:\n    env: {id: CartPole-v1}\n")
    message = error_of("dup", "pendulum", [], folder)
    assert (
        "duplicate key 'pendulum'" in message
        and "dup.yaml:12:3" in message
        and "first at line 10" in message
    )


def test_unknown_top_level_key_suggests_closest(write_pipeline):
    folder = write_pipeline("t", MINIMAL.replace("defaults:", "default:"))
    message = error_of("t", "pendulum", [], folder)
    assert "unknown top-level key 'default'" in message and "did you mean 'defaults'" in message


@pytest.mark.parametrize(
    "override,path,suggestion",
    [
        ("algorithm.batch_sise=3", "algorithm.batch_sise", "batch_size"),
        ("algorithm.critic.norm.r_maxx=3", "algorithm.critic.norm.r_maxx", "r_max"),
        ("env.num_env=2", "env.num_env", "num_envs"),
        ("meta.seed=2", "meta.seed", "seeds"),
    ],
)
def test_unknown_key_at_any_depth_suggests_closest_valid_key(
    pipelines_dir, override, path, suggestion
):
    message = error_of("crossq", "hopper", [override], pipelines_dir)
    assert "pipelines/crossq.yaml, spec 'hopper'" in message
    assert f"key {path}: unknown key" in message and f"did you mean '{suggestion}'" in message


def test_unknown_key_in_file_names_file_spec_and_path(write_pipeline):
    folder = write_pipeline(
        "t", MINIMAL.replace("{id: Pendulum-v1}", "{id: Pendulum-v1, nmu_envs: 2}")
    )
    message = error_of("t", "pendulum", [], folder)
    assert message.startswith("t.yaml") is False
    assert "t.yaml, spec 'pendulum', key env.nmu_envs: unknown key" in message
    assert "did you mean 'num_envs'" in message


@pytest.mark.parametrize(
    "override,expected",
    [
        ("algorithm.gamma=abc", "key algorithm.gamma: Input should be a valid number"),
        ("algorithm.utd=true", "key algorithm.utd: expected a number, got the boolean true"),
        ("env.vectorization=threads", "key env.vectorization: Input should be 'sync' or 'async'"),
        (
            "algorithm.critic.hidden=[256, x]",
            "key algorithm.critic.hidden[1]: Input should be a valid integer",
        ),
    ],
)
def test_wrong_type_names_key_path(pipelines_dir, override, expected):
    assert expected in error_of("crossq", "hopper", [override], pipelines_dir)


@pytest.mark.parametrize(
    "override,path",
    [
        ("algorithm.batch_size=0", "algorithm.batch_size"),
        ("algorithm.actor_lr=-1e-3", "algorithm.actor_lr"),
        ("max_frame=0", "env.max_frame"),
        ("seeds=-1", "meta.seeds"),
        ("algorithm.critic.hidden=[0]", "algorithm.critic.hidden[0]"),
    ],
)
def test_zero_or_negative_where_positive_is_required(pipelines_dir, override, path):
    message = error_of("crossq", "hopper", [override], pipelines_dir)
    assert f"key {path}: Input should be greater than 0" in message


def test_undefined_var_names_file_spec_key_and_defined_vars(write_pipeline):
    folder = write_pipeline("t", MINIMAL.replace("${max_frame}", "${max_frames}"))
    message = error_of("t", "pendulum", [], folder)
    assert (
        "t.yaml, spec 'pendulum', key env.max_frame: undefined variable '${max_frames}'" in message
    )
    assert "did you mean 'max_frame'" in message and "defined vars: max_frame" in message


def test_leftover_dollar_brace_after_substitution_is_an_error(write_pipeline):
    folder = write_pipeline("t", MINIMAL.replace("{id: Pendulum-v1}", "{id: 'Pendulum-${v1'}"))
    message = error_of("t", "pendulum", [], folder)
    assert "key env.id: 'Pendulum-${v1' still holds '${'" in message


def test_override_without_equals_is_rejected(pipelines_dir):
    assert "expected name=value" in error_of("crossq", "hopper", ["max_frame"], pipelines_dir)


def test_override_of_undeclared_name_lists_valid_names(pipelines_dir):
    message = error_of("crossq", "hopper", ["maxframe=3"], pipelines_dir)
    assert "-s maxframe: not a declared var or a dotted field path" in message
    assert (
        "did you mean 'max_frame'" in message
        and "valid: max_frame, seeds, algorithm.<field>" in message
    )


def test_continuous_only_setting_on_discrete_env_is_rejected(pipelines_dir):
    message = error_of("sac", "cartpole", ["algorithm.log_std_min=-5"], pipelines_dir)
    assert "CartPole-v1 has discrete actions" in message and "log_std_min" in message


def test_unknown_algorithm_name_suggests_closest(pipelines_dir):
    message = error_of("crossq", "hopper", ["algorithm.name=crosq"], pipelines_dir)
    assert "key algorithm.name: unknown value 'crosq' (did you mean 'crossq'?)" in message


def test_crossq_without_batch_renorm_critic_is_rejected(pipelines_dir):
    message = error_of("crossq", "hopper", ["algorithm.critic.norm=layer"], pipelines_dir)
    assert "CrossQ critics need norm type batch_renorm" in message


def test_batch_larger_than_buffer_is_rejected(pipelines_dir):
    message = error_of("crossq", "hopper", ["memory.capacity=100"], pipelines_dir)
    assert "batch_size (256) is larger than memory.capacity (100)" in message


@pytest.mark.parametrize("family", ["crossq", "sac"])
def test_saved_spec_json_revalidates_to_the_same_hash(pipelines_dir, family):
    for check in check_all(pipelines_dir, [family]):
        dumped = check.resolved.spec.model_dump(mode="json")
        assert spec_hash(Spec.model_validate(dumped)) == check.resolved.spec_hash
