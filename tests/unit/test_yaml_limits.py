"""Limits of the YAML loader for untrusted files: aliases, size, depth, tags, control characters."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.spec import check_all, resolve_spec
from rlpipe.spec.load import parse_overrides
from rlpipe.spec.suite import load_suite
from rlpipe.spec.yaml12 import MAX_YAML_BYTES, MAX_YAML_DEPTH, parse_yaml, read_yaml_file

VALID = """
defaults:
  algorithm: {name: sac, batch_size: 32}
  env: {max_frame: 1000}
  memory: {capacity: 1000}
specs:
  pendulum:
    env: {id: Pendulum-v1}
"""


def alias_bomb() -> str:
    """A pipeline whose nine levels of nine aliases expand to 9^9 (387 million) strings."""
    levels = "abcdefghi"
    lines = ["defaults:", "  env:", "    kwargs:", "      a: &a [l, l, l, l, l, l, l, l, l]"]
    for previous, level in itertools.pairwise(levels):
        lines.append(f"      {level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    lines += ["specs:", "  boom: {algorithm: {name: sac}, env: {id: Pendulum-v1, max_frame: 9}}"]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_under_a_kilobyte():
    assert len(alias_bomb().encode()) < 1000
    assert alias_bomb().count("*") == 72


def test_alias_is_refused_with_the_file_line_and_a_hint(write_pipeline):
    folder = write_pipeline("bomb", alias_bomb())
    with pytest.raises(RlpipeError) as raised:
        resolve_spec("bomb", "boom", (), folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / 'bomb.yaml'}:5:")
    assert "YAML aliases (*a) are not allowed in rlpipe files" in message
    assert "malformed" not in message


def test_a_single_alias_or_merge_key_is_refused_too(write_pipeline):
    shared = VALID.replace("  algorithm: {name: sac", "  algorithm: &algo {name: sac").replace(
        "    env: {id: Pendulum-v1}", "    env: {id: Pendulum-v1}\n    algorithm: {<<: *algo}"
    )
    folder = write_pipeline("shared", shared)
    with pytest.raises(RlpipeError, match=r"shared\.yaml:\d+:\d+: YAML aliases \(\*algo\)"):
        resolve_spec("shared", "pendulum", (), folder)


def test_spec_check_reports_each_hostile_file_and_still_checks_the_others(write_pipeline):
    write_pipeline("ok", VALID)
    write_pipeline("bomb", alias_bomb())
    write_pipeline("deep", "specs:\n  x: " + "[" * 2000 + "]" * 2000 + "\n")
    big = "# padding\n" * (MAX_YAML_BYTES // 10) + VALID
    folder = write_pipeline("big", big)
    results = {(c.family, c.name): c.error for c in check_all(folder)}
    assert results[("ok", "pendulum")] is None
    assert "YAML aliases (*a) are not allowed" in results[("bomb", "*")]
    assert results[("deep", "*")].startswith(f"{folder / 'deep.yaml'}:2:")
    assert f"nested deeper than {MAX_YAML_DEPTH} levels" in results[("deep", "*")]
    assert results[("big", "*")] == (
        f"{folder / 'big.yaml'}: {len(big):,} bytes is larger than the 1,000,000 an rlpipe "
        "YAML file may have"
    )


def test_nesting_up_to_the_limit_is_read():
    nested = "[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH
    value = parse_yaml(nested, "x")
    for _ in range(MAX_YAML_DEPTH - 1):
        value = value[0]
    assert value == []
    with pytest.raises(RlpipeError, match="nested deeper than"):
        parse_yaml("[" + nested + "]", "x")


def test_suite_file_gets_the_same_limits(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("hub_repo: &r a/b\nseeds: 1\nenvs: {}\nruns: {}\nnote: *r\n")
    with pytest.raises(RlpipeError, match=r"suite\.yaml:5:7: YAML aliases \(\*r\)"):
        load_suite(suite)


def test_override_values_get_the_same_limits():
    with pytest.raises(RlpipeError, match=r"-s env\.kwargs: .*YAML aliases \(\*k\)"):
        parse_overrides(["env.kwargs={a: &k 1, b: *k}"])
    with pytest.raises(RlpipeError, match="nested deeper than"):
        parse_overrides(["env.kwargs=" + "[" * 100 + "]" * 100])


@pytest.mark.parametrize(
    "value,char",
    [
        ('"\\e[2J"', "U+001B"),
        ('"a\\x07b"', "U+0007"),
        ('"a\\rb"', "U+000D"),
        ('"\\u009b"', "U+009B"),
    ],
)
def test_control_characters_in_values_are_refused(value, char):
    with pytest.raises(RlpipeError) as raised:
        parse_overrides([f"env.id={value}"])
    assert f"the value holds the control character {char}" in str(raised.value)


def test_control_character_in_a_key_is_refused():
    with pytest.raises(RlpipeError, match=r"U\+001B"):
        parse_yaml('"k\\e": 1', "x")


@pytest.mark.parametrize("tagged", ["!!set {a, b}", "!!binary aGk=", "!!timestamp 2001-12-14"])
def test_tags_beyond_plain_values_are_refused(tagged):
    with pytest.raises(RlpipeError, match=r"the tag tag:yaml\.org,2002:\w+ is not supported"):
        parse_yaml(f"x: {tagged}", "x.yaml")


def test_an_integer_too_long_to_convert_is_a_clear_error():
    with pytest.raises(RlpipeError, match=r"x\.yaml:1:4: cannot read integer"):
        parse_yaml("x: " + "9" * 5000, "x.yaml")


def test_a_file_too_large_is_refused_without_being_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * MAX_YAML_BYTES)  # sparse: large on paper, nothing to read

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    with pytest.raises(RlpipeError, match="50,000,000 bytes is larger than the 1,000,000"):
        read_yaml_file(path)
