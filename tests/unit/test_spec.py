"""The spec language: lookup, YAML 1.2 numbers, substitution, overrides, validation, hash."""

from __future__ import annotations

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.spec import Spec, canonical_json, check_all, resolve_spec, spec_hash
from rlpipe.spec.yaml12 import parse_yaml

FAMILIES = ["crossq", "sac", "ppo", "a2c", "dqn"]

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


# The real pipelines' own checks (every starter spec ships and resolves, CrossQ Hopper has the
# paper's values) are repo-data tests: tests/unit/test_repo_pipelines.py.


def test_every_fixture_spec_resolves(fixture_pipelines):
    results = check_all(fixture_pipelines)
    assert {c.family for c in results} == set(FAMILIES)
    assert [c.name for c in results if c.family == "crossq"] == ["cartpole", "pendulum", "hopper"]
    assert all(c.error is None for c in results), [c.error for c in results if c.error]


def test_spec_resolves_to_the_files_defaults_merged_with_its_own_body(fixture_pipelines):
    spec = resolve_spec("crossq", "hopper", [], fixture_pipelines).spec
    algo = spec.algorithm
    assert (spec.family, spec.name, spec.env.id) == ("crossq", "hopper", "Hopper-v5")
    assert algo.name == "crossq"
    assert algo.adam_betas == (0.5, 0.999)
    assert (algo.actor_lr, algo.critic_lr, algo.batch_size, algo.policy_delay) == (
        1e-3, 1e-3, 64, 3
    )  # fmt: skip
    norm = algo.critic.norm
    assert (norm.type, norm.momentum, norm.r_max, norm.d_max, norm.eps) == (
        "batch_renorm", 0.01, 3.0, 5.0, 1e-3
    )  # fmt: skip
    assert norm.warmup_steps == 1000  # the file's value, not the schema's default of 100_000
    assert algo.actor.hidden == [32, 32] and algo.critic.hidden == [64, 64]
    assert spec.memory.capacity == 10_000
    assert algo.learning_starts == 1000
    assert (spec.env.max_frame, spec.meta.seeds) == (20_000, 2)  # the file's vars


def test_yaml12_numbers_in_exponent_form_are_numbers():
    parsed = parse_yaml("a: 4e6\nb: 1e-5\nc: 3.0e+5\nd: yes\ne: true\nf: 0x10", "t.yaml")
    assert parsed == {"a": 4e6, "b": 1e-5, "c": 3e5, "d": "yes", "e": True, "f": 16}


def test_max_frame_override_accepts_exponent_and_integral_float(fixture_pipelines):
    assert (
        resolve_spec("crossq", "hopper", ["max_frame=2e5"], fixture_pipelines).spec.env.max_frame
        == 200_000
    )
    assert (
        resolve_spec("crossq", "hopper", ["max_frame=2.5e5"], fixture_pipelines).spec.env.max_frame
        == 250_000
    )


def test_fractional_seed_count_is_rejected(fixture_pipelines):
    message = error_of("crossq", "hopper", ["seeds=2.5"], fixture_pipelines)
    assert "key meta.seeds" in message and "fractional part" in message


def test_dotted_field_override_sets_nested_value(fixture_pipelines):
    spec = resolve_spec(
        "crossq",
        "hopper",
        ["algorithm.critic.hidden=[16, 16]", "meta.base_seed=7"],
        fixture_pipelines,
    ).spec
    assert spec.algorithm.critic.hidden == [16, 16]
    assert spec.meta.seed_list == [7, 8]


def test_hash_is_canonical_and_changes_with_any_field(fixture_pipelines):
    a = resolve_spec("crossq", "hopper", ["max_frame=2e5"], fixture_pipelines)
    b = resolve_spec("crossq", "hopper", ["max_frame=200000"], fixture_pipelines)
    c = resolve_spec("crossq", "hopper", ["algorithm.gamma=0.98"], fixture_pipelines)
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


def test_unknown_family_suggests_closest(fixture_pipelines):
    message = error_of("crosq", "hopper", [], fixture_pipelines)
    assert "unknown family 'crosq'" in message and "did you mean 'crossq'" in message


def test_unknown_spec_suggests_closest(fixture_pipelines):
    message = error_of("crossq", "hoper", [], fixture_pipelines)
    assert "pipelines/crossq.yaml" in message
    assert "unknown spec 'hoper'" in message and "did you mean 'hopper'" in message


@pytest.mark.parametrize("family,spec", [("../crossq", "hopper"), ("crossq", "a/b"), ("..", "x")])
def test_names_with_slash_or_dotdot_are_rejected(fixture_pipelines, family, spec):
    assert "no '/', '..' or paths" in error_of(family, spec, [], fixture_pipelines)


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
    fixture_pipelines, override, path, suggestion
):
    message = error_of("crossq", "hopper", [override], fixture_pipelines)
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
def test_wrong_type_names_key_path(fixture_pipelines, override, expected):
    assert expected in error_of("crossq", "hopper", [override], fixture_pipelines)


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
def test_zero_or_negative_where_positive_is_required(fixture_pipelines, override, path):
    message = error_of("crossq", "hopper", [override], fixture_pipelines)
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


def test_override_without_equals_is_rejected(fixture_pipelines):
    assert "expected name=value" in error_of("crossq", "hopper", ["max_frame"], fixture_pipelines)


def test_override_of_undeclared_name_lists_valid_names(fixture_pipelines):
    message = error_of("crossq", "hopper", ["maxframe=3"], fixture_pipelines)
    assert "-s maxframe: not a declared var or a dotted field path" in message
    assert (
        "did you mean 'max_frame'" in message
        and "valid: max_frame, seeds, algorithm.<field>" in message
    )


def test_continuous_only_setting_on_discrete_env_is_rejected(fixture_pipelines):
    message = error_of("sac", "cartpole", ["algorithm.log_std_min=-5"], fixture_pipelines)
    assert "CartPole-v1 has discrete actions" in message and "log_std_min" in message


def test_unknown_algorithm_name_suggests_closest(fixture_pipelines):
    message = error_of("crossq", "hopper", ["algorithm.name=crosq"], fixture_pipelines)
    assert "key algorithm.name: unknown value 'crosq' (did you mean 'crossq'?)" in message


def test_crossq_without_batch_renorm_critic_is_rejected(fixture_pipelines):
    message = error_of("crossq", "hopper", ["algorithm.critic.norm=layer"], fixture_pipelines)
    assert "CrossQ critics need norm type batch_renorm" in message


def test_batch_larger_than_buffer_is_rejected(fixture_pipelines):
    message = error_of("crossq", "hopper", ["memory.capacity=32"], fixture_pipelines)
    assert "batch_size (64) is larger than memory.capacity (32)" in message


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_spec_json_revalidates_to_the_same_hash(fixture_pipelines, family):
    for check in check_all(fixture_pipelines, [family]):
        dumped = check.resolved.spec.model_dump(mode="json")
        assert spec_hash(Spec.model_validate(dumped)) == check.resolved.spec_hash
