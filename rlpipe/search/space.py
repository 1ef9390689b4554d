"""The search space file: dotted spec keys with distributions, validated and checked
against the spec (through the same resolution as `-s`) before anything trains."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from rlpipe.errors import RlpipeError
from rlpipe.spec import resolve_spec
from rlpipe.spec.load import parse_overrides
from rlpipe.spec.schema import Float, Int, StrictModel
from rlpipe.spec.yaml12 import parse_yaml

MAX_GRID_POINTS = 1_000_000
"""Most values a stepped float range may have (a finer grid is no grid)."""


class FloatRange(StrictModel):
    """A float drawn uniformly from [low, high] (on a grid of `step` when given)."""

    type: Literal["float"] = Field(description="Uniform float.")
    low: Float = Field(description="Lowest value.")
    high: Float = Field(description="Highest value.")
    step: Annotated[Float, Field(gt=0)] | None = Field(None, description="Grid step; null = none.")

    @model_validator(mode="after")
    def _not_empty(self) -> FloatRange:
        _check_bounds(self.low, self.high)
        if self.step is not None and (self.high - self.low) / self.step > MAX_GRID_POINTS:
            raise ValueError(
                f"step {self.step:g} makes more than {MAX_GRID_POINTS:,} grid points between low "
                "and high; use a larger step, or none"
            )
        return self


class LogFloatRange(StrictModel):
    """A float drawn log-uniformly from [low, high] (learning rates, tau)."""

    type: Literal["log_float"] = Field(description="Log-uniform float.")
    low: Annotated[Float, Field(gt=0)] = Field(description="Lowest value (> 0).")
    high: Float = Field(description="Highest value.")

    @model_validator(mode="after")
    def _not_empty(self) -> LogFloatRange:
        _check_bounds(self.low, self.high)
        return self


class IntRange(StrictModel):
    """An integer drawn uniformly from low, low+step, ..., high."""

    type: Literal["int"] = Field(description="Uniform integer.")
    low: Int = Field(description="Lowest value.")
    high: Int = Field(description="Highest value.")
    step: Annotated[Int, Field(gt=0)] = Field(1, description="Grid step.")
    log: bool = Field(False, description="Log-uniform (step must be 1).")

    @model_validator(mode="after")
    def _not_empty(self) -> IntRange:
        _check_bounds(self.low, self.high)
        if self.log and (self.step != 1 or self.low <= 0):
            raise ValueError("log: true needs step 1 and low > 0")
        return self


class Categorical(StrictModel):
    """One of a list of values (numbers, strings, booleans, lists such as layer sizes)."""

    type: Literal["categorical"] = Field(description="One of `choices`.")
    choices: list[Any] = Field(description="The values to choose from.", min_length=2)

    @model_validator(mode="after")
    def _distinct(self) -> Categorical:
        texts = [json.dumps(choice, sort_keys=True) for choice in self.choices]
        if len(set(texts)) != len(texts):
            raise ValueError("choices repeat a value")
        return self


Distribution = Annotated[
    FloatRange | LogFloatRange | IntRange | Categorical, Field(discriminator="type")
]


def _check_bounds(low: float, high: float) -> None:
    if not low < high:
        raise ValueError(
            f"empty bounds: low ({low}) must be below high ({high}); to fix a value, use -s"
        )


@dataclass(frozen=True)
class SearchSpace:
    """The validated space: the file it came from, its raw text and each key's distribution."""

    path: Path
    text: str
    params: dict[str, Distribution]


def format_value(value: Any) -> str:
    """A value as `-s` text: YAML 1.2 reads JSON scalars and flow lists back as the same value."""
    return json.dumps(value)


def as_overrides(values: dict[str, Any]) -> list[str]:
    """The `-s key=value` strings that set these values."""
    return [f"{key}={format_value(value)}" for key, value in values.items()]


_DISTRIBUTION = TypeAdapter(Distribution)


def _describe(exc: ValidationError, tag: Any) -> str:
    problems = []
    for error in exc.errors():
        parts = [str(part) for part in error["loc"] if not isinstance(part, int)]
        if parts and parts[0] == str(tag):  # pydantic names the union member first
            parts = parts[1:]
        key = ".".join(parts)
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{key}: {message}" if key else message)
    return "; ".join(problems)


def read_text(path: Path, what: str) -> str:
    """A UTF-8 text file, or an RlpipeError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RlpipeError(f"{path}: the {what} is not UTF-8 text") from None
    except OSError as error:
        raise RlpipeError(f"{path}: cannot read the {what} ({error.strerror or error})") from None


def load_space(path: Path) -> SearchSpace:
    """Read and validate a search space file (structure, distributions and bounds)."""
    if not path.is_file():
        raise RlpipeError(f"no search space file at {path}")
    text = read_text(path, "search space file")
    raw = parse_yaml(text, str(path))
    if not isinstance(raw, dict) or not raw:
        raise RlpipeError(
            f"{path}: expected a mapping of dotted spec keys to distributions, e.g. "
            "'algorithm.critic_lr: {type: log_float, low: 1e-4, high: 3e-3}'"
        )
    params: dict[str, Distribution] = {}
    for key, body in raw.items():
        if not isinstance(key, str) or key != key.strip() or not key:
            raise RlpipeError(
                f"{path}, key {key!r}: a dotted spec key without spaces around it, e.g. "
                "algorithm.gamma"
            )
        if not isinstance(body, dict):
            raise RlpipeError(
                f"{path}, key {key}: expected a distribution mapping with a type "
                f"(float, log_float, int, categorical), got {body!r}"
            )
        try:
            params[str(key)] = _DISTRIBUTION.validate_python(body)
        except ValidationError as exc:
            raise RlpipeError(f"{path}, key {key}: {_describe(exc, body.get('type'))}") from None
    return SearchSpace(path, text, params)


def _probe_values(distribution: Distribution) -> list[Any]:
    """The values that must each resolve: the bounds (or every choice), and for a float
    range one value that is not a whole number, so an integer field is caught."""
    if isinstance(distribution, Categorical):
        return list(distribution.choices)
    values: list[Any] = [distribution.low, distribution.high]
    if isinstance(distribution, (FloatRange, LogFloatRange)):
        values = [float(v) for v in values]
        inside = distribution.low + 0.381966 * (distribution.high - distribution.low)
        if float(inside).is_integer():
            inside = math.nextafter(inside, distribution.high)
        values.append(inside)
    return values


def _value_at(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def check_space(
    space: SearchSpace,
    family: str,
    spec: str,
    overrides: Sequence[str],
    pipelines: Path,
) -> None:
    """Try every bound (or choice) of every key through resolve_spec, as `-s` would; raise
    the same error, naming the space file and key, if a key is unknown or a value does not fit."""
    fixed = {name for name, _ in parse_overrides(overrides)}
    for key, distribution in space.params.items():
        if key in fixed:
            raise RlpipeError(
                f"{space.path}, key {key}: also set with -s {key}=...; search it or fix it, "
                "not both"
            )
        for value in _probe_values(distribution):
            try:
                resolved = resolve_spec(
                    family, spec, [*overrides, f"{key}={format_value(value)}"], pipelines
                )
            except RlpipeError as exc:
                raise RlpipeError(
                    f"{space.path}, key {key} = {format_value(value)}: {exc}"
                ) from None
            _check_number_field(space.path, key, distribution, resolved.spec.model_dump())


def _check_number_field(
    path: Path, key: str, distribution: Distribution, spec: dict[str, Any]
) -> None:
    """A numeric distribution needs a numeric field: pydantic reads 0 and 1 as booleans."""
    if isinstance(distribution, Categorical):
        return
    value = _value_at(spec, key)
    if isinstance(value, bool) or (value is not None and not isinstance(value, (int, float))):
        raise RlpipeError(
            f"{path}, key {key}: the {distribution.type} distribution does not fit this field "
            f"(it holds {value!r}); use type categorical"
        )


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Draw one value per key from an Optuna trial, in the file's order."""
    values: dict[str, Any] = {}
    for key, d in space.params.items():
        if isinstance(d, FloatRange):
            values[key] = trial.suggest_float(key, d.low, d.high, step=d.step)
        elif isinstance(d, LogFloatRange):
            values[key] = trial.suggest_float(key, d.low, d.high, log=True)
        elif isinstance(d, IntRange):
            values[key] = trial.suggest_int(key, d.low, d.high, step=d.step, log=d.log)
        else:
            # Optuna's choices must be plain scalars: offer lists (layer sizes) as JSON text.
            texts = [json.dumps(choice) for choice in d.choices]
            values[key] = json.loads(trial.suggest_categorical(key, texts))
    return values


def decode_params(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """A finished trial's stored params as spec values (categorical choices decoded)."""
    return {
        key: json.loads(value) if isinstance(space.params.get(key), Categorical) else value
        for key, value in params.items()
    }
