"""Numbers in specs: non-finite values are refused by key, seeds are bounded, and the saved
spec.json hashes to the recorded hash for every value the schema accepts."""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

import rlpipe.spec.load
from rlpipe.errors import RlpipeError
from rlpipe.launch import TrainOptions, prepare_run_folder
from rlpipe.rundir import SPEC_FILE, RunFolder
from rlpipe.spec import Spec, hash_document, resolve_spec, spec_hash
from tests.conftest import FIXTURE_PIPELINES

# One spec per algorithm family, so that every algorithm's fields are swept (from the fixture
# pipelines: the fields are the schema's, whatever values the production specs hold).
SPECS = [("crossq", "hopper"), ("sac", "cartpole"), ("ppo", "pendulum"), ("a2c", "cartpole"),
         ("dqn", "cartpole")]  # fmt: skip
NON_FINITE = (".inf", "-.inf", ".nan")
AWKWARD_FINITE = ("5e-324", "0.30000000000000004", "12345678901234567890", "1e308")


@pytest.fixture(autouse=True)
def parse_each_pipeline_once(monkeypatch):
    """The sweeps resolve specs about a thousand times: parse each pipeline file only once."""
    parsed: dict[Path, Any] = {}
    read = rlpipe.spec.load.read_yaml_file

    def cached(path: Path) -> Any:
        if path not in parsed:
            parsed[path] = read(path)
        return copy.deepcopy(parsed[path])

    monkeypatch.setattr(rlpipe.spec.load, "read_yaml_file", cached)


def _holds_number(annotation: Any) -> bool:
    """Whether a field annotation admits an int or float (through Annotated, unions, tuples)."""
    if annotation in (int, float):
        return True
    origin = get_origin(annotation)
    if origin in (Annotated, Union, types.UnionType, tuple, list):
        return any(_holds_number(arg) for arg in get_args(annotation) if arg is not Ellipsis)
    return False


def numeric_fields(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, current value) of every field of a resolved spec that takes numbers."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from numeric_fields(value, f"{prefix}{name}.")
        elif _holds_number(field.annotation):
            yield f"{prefix}{name}", value


def with_value(current: Any, text: str) -> str:
    """The -s value text that puts `text` in a field (the first item of a list field)."""
    if isinstance(current, list | tuple):
        return "[" + ", ".join([text, *(json.dumps(item) for item in current[1:])]) + "]"
    return text


def sweep() -> list[tuple[str, str, str, Any]]:
    cases = []
    for family, name in SPECS:
        resolved = resolve_spec(family, name, (), FIXTURE_PIPELINES)
        cases += [(family, name, path, value) for path, value in numeric_fields(resolved.spec)]
    return cases


CASES = sweep()


def test_the_sweep_covers_the_fields_the_issue_names():
    swept = {(family, path) for family, _, path, _ in CASES}
    for family in ("sac", "crossq"):
        for field in ("critic_lr", "utd", "init_alpha", "max_grad_norm", "target_entropy"):
            assert (family, f"algorithm.{field}") in swept
    assert ("ppo", "algorithm.lr") in swept and ("dqn", "algorithm.lr") in swept
    assert ("sac", "meta.base_seed") in swept and ("sac", "env.max_frame") in swept
    assert ("crossq", "algorithm.critic.norm.momentum") in swept
    assert len(CASES) >= 140


@pytest.mark.parametrize("family,name,path,current", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_non_finite_values_are_refused_with_the_key_named(
    fixture_pipelines, family, name, path, current
):
    for text in NON_FINITE:
        override = f"{path}={with_value(current, text)}"
        with pytest.raises(RlpipeError) as raised:
            resolve_spec(family, name, [override], fixture_pipelines)
        message = str(raised.value)
        key = f"key {path}" + ("[0]" if isinstance(current, list | tuple) else "")
        assert key in message, (override, message)
        assert "finite number" in message, (override, message)


def test_non_finite_values_in_env_kwargs_are_refused_with_the_nested_key(fixture_pipelines):
    with pytest.raises(
        RlpipeError, match=r"key env\.kwargs: a\.b\[1\]: inf is not a finite number"
    ):
        resolve_spec("sac", "pendulum", ["env.kwargs={a: {b: [1, .inf]}}"], fixture_pipelines)
    with pytest.raises(RlpipeError, match=r"key env\.kwargs: a: key 1 must be a string"):
        resolve_spec("sac", "pendulum", ["env.kwargs={a: {1: x}}"], fixture_pipelines)


def test_a_saved_spec_with_infinity_does_not_validate():
    resolved = resolve_spec("sac", "pendulum", (), FIXTURE_PIPELINES)
    document = json.loads(json.dumps(resolved.spec.model_dump(mode="json")))
    document["algorithm"]["critic_lr"] = float("inf")  # json.loads reads "Infinity" like this
    with pytest.raises(ValueError, match="finite number"):
        Spec.model_validate(document)
    with pytest.raises(RlpipeError, match="cannot be hashed as canonical JSON"):
        hash_document(document)


def saved_spec(resolved, out: Path) -> dict:
    """Write spec.json the way `rlpipe train` does and read it back."""
    prepare_run_folder(resolved, RunFolder(out), TrainOptions(out=out, overwrite=True))
    return json.loads((out / SPEC_FILE).read_text())


def test_saved_spec_json_hashes_to_its_hash_for_every_accepted_value(fixture_pipelines, tmp_path):
    accepted = 0
    for family, name, path, current in CASES:
        for text in AWKWARD_FINITE:
            try:
                resolved = resolve_spec(family, name, [f"{path}={with_value(current, text)}"],
                                        fixture_pipelines)  # fmt: skip
            except RlpipeError:
                continue  # outside the field's range: refused, nothing saved
            accepted += 1
            saved = saved_spec(resolved, tmp_path / "run")
            assert saved["spec_hash"] == resolved.spec_hash
            assert hash_document(saved["spec"]) == resolved.spec_hash, (path, text)
            assert spec_hash(Spec.model_validate(saved["spec"])) == resolved.spec_hash
    assert accepted > 200


@pytest.mark.parametrize(
    "kwargs",
    ['{render_mode: null, g: 9.81, n: 12345678901234567890}', '{name: "ünïcode ✓", tiny: 5e-324}',
     '{nested: {deep: [1, 2.5, [true, false]], "": empty}}'],
)  # fmt: skip
def test_saved_env_kwargs_hash_to_the_spec_hash(fixture_pipelines, tmp_path, kwargs):
    resolved = resolve_spec("sac", "pendulum", [f"env.kwargs={kwargs}"], fixture_pipelines)
    saved = saved_spec(resolved, tmp_path / "run")
    assert hash_document(saved["spec"]) == saved["spec_hash"] == resolved.spec_hash


def test_seed_count_is_bounded_before_any_seed_list_is_built(fixture_pipelines):
    with pytest.raises(
        RlpipeError, match=r"key meta\.seeds: Input should be less than or equal to 1000"
    ):
        resolve_spec("sac", "pendulum", ["seeds=1e9"], fixture_pipelines)
    resolved = resolve_spec("sac", "pendulum", ["seeds=1000"], fixture_pipelines)
    assert len(resolved.spec.meta.seed_list) == 1000


def test_seeds_must_fit_numpy(fixture_pipelines):
    last = 2**32 - 1
    resolved = resolve_spec(
        "sac", "pendulum", [f"meta.base_seed={last}", "seeds=1"], fixture_pipelines
    )
    assert resolved.spec.meta.seed_list == [last]
    with pytest.raises(
        RlpipeError, match=r"key meta\.base_seed: Input should be less than 4294967296"
    ):
        resolve_spec("sac", "pendulum", [f"meta.base_seed={2**32}", "seeds=1"], fixture_pipelines)
    with pytest.raises(RlpipeError) as raised:
        resolve_spec("sac", "pendulum", [f"meta.base_seed={last}", "seeds=2"], fixture_pipelines)
    assert str(raised.value).endswith(
        "key meta: the last seed, base_seed + seeds - 1 = 4294967296, must be below 2^32 "
        "(4294967296), numpy's seed limit; lower base_seed"
    )
