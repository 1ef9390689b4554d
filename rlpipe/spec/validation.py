"""Turn pydantic validation errors into one-line messages with key paths and suggestions."""

from __future__ import annotations

import difflib
import types
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast, get_args, get_origin

from pydantic import BaseModel, ValidationError

from rlpipe.spec.schema import Spec

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

_INJECTED = {"family", "name"}


def top_level_fields() -> list[str]:
    """Spec fields a user may set (family and name come from the file and spec name)."""
    return [f for f in Spec.model_fields if f not in _INJECTED]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic model classes an annotation can hold (through unions, lists, Optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple, dict):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def _tag_of(model: type[BaseModel]) -> str | None:
    for key in ("name", "type"):
        field = model.model_fields.get(key)
        if field is not None and get_origin(field.annotation) is Literal:
            return cast("str", get_args(field.annotation)[0])
    return None


def _walk(loc: tuple[Any, ...]) -> tuple[str, list[type[BaseModel]]]:
    """The dotted key path of a pydantic loc, and the model(s) that hold its last key."""
    models: list[type[BaseModel]] = [Spec]
    parts: list[str] = []
    holders: list[type[BaseModel]] = [Spec]
    for element in loc:
        if isinstance(element, int):
            parts.append(f"[{element}]")
            continue
        if not models:
            continue  # past a plain field: a union member's label, e.g. "literal['auto']"
        if len(models) > 1:
            tagged = [m for m in models if _tag_of(m) == element]
            if tagged:
                models = tagged
                continue
        holders = models
        parts.append(("." if parts else "") + str(element))
        fields = [m.model_fields[element] for m in models if element in m.model_fields]
        models = [m for f in fields for m in _models_in(f.annotation)]
    return "".join(parts), holders


def _suggest(key: str, holders: list[type[BaseModel]]) -> str:
    valid = sorted({f for m in holders for f in m.model_fields if f not in _INJECTED})
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"did you mean '{match[0]}'? " if match else ""
    return f"{hint}valid keys: {', '.join(valid)}"


def _one(error: ErrorDetails) -> tuple[str, str]:
    """The key path of one pydantic error and what is wrong there."""
    loc = tuple(error["loc"])
    kind = error["type"]
    path, holders = _walk(loc)
    if kind == "extra_forbidden":
        return path, f"unknown key; {_suggest(str(loc[-1]), holders)}"
    if kind == "missing":
        return path, "required field is missing"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        tag = str(ctx.get("tag", ""))
        expected = str(ctx.get("expected_tags", "")).replace("'", "").split(", ")
        match = difflib.get_close_matches(tag, expected, n=1, cutoff=0.5)
        hint = f" (did you mean '{match[0]}'?)" if match else ""
        field = ctx.get("discriminator", "").strip("'")
        return f"{path}.{field}", f"unknown value '{tag}'{hint}; expected one of: " + ", ".join(
            expected
        )
    if kind == "union_tag_not_found":
        field = error.get("ctx", {}).get("discriminator", "").strip("'")
        return f"{path}.{field}", "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    shown = error.get("input")
    got = (
        ""
        if isinstance(shown, (dict, list)) or kind.startswith("value_error")
        else f" (got {shown!r})"
    )
    return path, f"{message}{got}"


def describe_validation_error(exc: ValidationError, where: str) -> str:
    """One line per key with a problem (a union's alternatives joined by "or"), each prefixed
    with the file and spec."""
    problems: dict[str, list[str]] = {}
    for error in exc.errors():
        path, problem = _one(error)
        problems.setdefault(path, []).append(problem)
    return "\n".join(
        f"{where}, key {path}: {', or '.join(found)}" if path else f"{where}, {', or '.join(found)}"
        for path, found in problems.items()
    )
