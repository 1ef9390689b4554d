"""Spec lookup, ${var} substitution, -s overrides, validation and hashing."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rlpipe.errors import RlpipeError
from rlpipe.spec.schema import Spec
from rlpipe.spec.validation import describe_validation_error, top_level_fields
from rlpipe.spec.yaml12 import parse_scalar, read_yaml_file

PIPELINE_KEYS = ("vars", "defaults", "specs")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXACT_REF = re.compile(r"^\$\{\s*([^}\s]*)\s*\}$")
_REF = re.compile(r"\$\{\s*([^}\s]*)\s*\}")


@dataclass(frozen=True)
class Pipeline:
    """One parsed pipelines/<family>.yaml file."""

    family: str
    path: Path
    vars: dict[str, Any]
    defaults: dict[str, Any]
    specs: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ResolvedSpec:
    """A validated spec with its hash and the file it came from."""

    spec: Spec
    spec_hash: str
    source: Path
    vars: dict[str, Any]
    overrides: tuple[str, ...] = ()


def closest(name: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean ...?)' hint for the candidate closest to name, or ''."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise RlpipeError(
            f"invalid {kind} name '{name}': use letters, digits, '-' and '_' only "
            "(no '/', '..' or paths)"
        )


def list_families(pipelines_dir: Path) -> list[str]:
    """The family names (pipeline files) in pipelines_dir, sorted."""
    if not pipelines_dir.is_dir():
        raise RlpipeError(
            f"no pipelines folder at {pipelines_dir}: run rlpipe from the project root "
            "or pass --pipelines DIR"
        )
    return sorted(p.stem for p in pipelines_dir.glob("*.yaml"))


def read_pipeline(family: str, pipelines_dir: Path) -> Pipeline:
    """Read and structurally check pipelines/<family>.yaml."""
    _check_name("family", family)
    path = pipelines_dir / f"{family}.yaml"
    if not path.is_file():
        families = list_families(pipelines_dir)
        raise RlpipeError(
            f"unknown family '{family}': no {path}{closest(family, families)}; "
            f"families: {', '.join(families) or 'none'}"
        )
    raw = read_yaml_file(path)
    if not isinstance(raw, dict):
        raise RlpipeError(f"{path}: expected a mapping with keys {', '.join(PIPELINE_KEYS)}")
    for key in raw:
        if key not in PIPELINE_KEYS:
            raise RlpipeError(
                f"{path}: unknown top-level key '{key}'{closest(str(key), PIPELINE_KEYS)}; "
                f"allowed: {', '.join(PIPELINE_KEYS)}"
            )
    variables = _mapping(raw.get("vars"), path, "vars")
    for var in variables:
        if not _VAR_NAME.match(str(var)):
            raise RlpipeError(f"{path}: vars: '{var}' is not a valid variable name")
    specs = _mapping(raw.get("specs"), path, "specs")
    if not specs:
        raise RlpipeError(f"{path}: 'specs' is empty; add at least one spec")
    for name, body in specs.items():
        _check_name("spec", str(name))
        _mapping(body, path, f"specs.{name}")
    return Pipeline(
        family=family,
        path=path,
        vars=variables,
        defaults=_mapping(raw.get("defaults"), path, "defaults"),
        specs={str(k): v or {} for k, v in specs.items()},
    )


def _mapping(value: Any, path: Path, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RlpipeError(f"{path}: '{where}' must be a mapping, got {type(value).__name__}")
    return value


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """base with over merged in: nested mappings merge, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_overrides(overrides: Sequence[str]) -> list[tuple[str, Any]]:
    """Split each `-s name=value` into (name, YAML 1.2 value)."""
    parsed = []
    for item in overrides:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise RlpipeError(
                f"-s '{item}': expected name=value, e.g. -s max_frame=2e5 or -s algorithm.lr=3e-4"
            )
        try:
            value = parse_scalar(text)
        except RlpipeError as exc:
            raise RlpipeError(f"-s {name}: cannot read value '{text}': {exc}") from None
        parsed.append((name, value))
    return parsed


def _apply_overrides(
    where: str, variables: dict[str, Any], tree: dict[str, Any], overrides: Sequence[str]
) -> None:
    fields = top_level_fields()
    for name, value in parse_overrides(overrides):
        if name in variables:
            variables[name] = value
            continue
        head, *rest = name.split(".")
        if head not in fields or not rest:
            valid = sorted(variables) + [f"{f}.<field>" for f in fields]
            raise RlpipeError(
                f"{where}: -s {name}: not a declared var or a dotted field path"
                f"{closest(name, list(variables) + fields)}; valid: {', '.join(valid)}"
            )
        node = tree
        for part in [head, *rest[:-1]]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[rest[-1]] = value


def substitute(tree: Any, variables: Mapping[str, Any], where: str, path: str = "") -> Any:
    """Replace ${name} in every string of tree: an exact reference keeps the var's type."""
    if isinstance(tree, dict):
        return {k: substitute(v, variables, where, _join(path, k)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [substitute(v, variables, where, f"{path}[{i}]") for i, v in enumerate(tree)]
    if not isinstance(tree, str):
        return tree

    def lookup(ref: str) -> Any:
        if ref not in variables:
            defined = ", ".join(sorted(variables)) or "none"
            raise RlpipeError(
                f"{where}, key {path}: undefined variable '${{{ref}}}'"
                f"{closest(ref, variables)}; defined vars: {defined}"
            )
        return variables[ref]

    exact = _EXACT_REF.match(tree)
    value = lookup(exact.group(1)) if exact else _REF.sub(lambda m: str(lookup(m.group(1))), tree)
    if isinstance(value, str) and "${" in value:
        raise RlpipeError(
            f"{where}, key {path}: '{tree}' still holds '${{' after substitution; "
            "write references as ${name}"
        )
    return value


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def canonical_json(spec: Spec) -> str:
    """The spec as canonical JSON: sorted keys, no whitespace, the basis of the hash."""
    return _canonical(spec.model_dump(mode="json"))


def _canonical(document: Any) -> str:
    # allow_nan=False: JSON files cannot hold inf or NaN, so neither may the hashed text
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)


def hash_document(document: Any) -> str:
    """sha256 hex digest of a spec as saved in spec.json (its "spec" object): for a saved Spec,
    the same digest spec_hash gave it. Raise RlpipeError if the document cannot be hashed."""
    try:
        text = _canonical(document)
    except (TypeError, ValueError) as exc:
        raise RlpipeError(f"the spec cannot be hashed as canonical JSON: {exc}") from None
    return hashlib.sha256(text.encode()).hexdigest()


def spec_hash(spec: Spec) -> str:
    """sha256 hex digest of the canonical JSON of a spec."""
    return hash_document(spec.model_dump(mode="json"))


def resolve_spec(
    family: str,
    name: str,
    overrides: Sequence[str] = (),
    pipelines_dir: Path = Path("pipelines"),
) -> ResolvedSpec:
    """Look up family/name, substitute vars and overrides, validate, and hash."""
    pipeline = read_pipeline(family, pipelines_dir)
    _check_name("spec", name)
    if name not in pipeline.specs:
        raise RlpipeError(
            f"{pipeline.path}: unknown spec '{name}'{closest(name, pipeline.specs)}; "
            f"specs: {', '.join(pipeline.specs)}"
        )
    where = f"{pipeline.path}, spec '{name}'"
    body = dict(pipeline.specs[name])
    variables = dict(pipeline.vars)
    local_vars = _mapping(body.pop("vars", None), pipeline.path, f"specs.{name}.vars")
    for var, value in local_vars.items():
        if var not in variables:
            raise RlpipeError(
                f"{where}: vars: '{var}' is not declared in the file's vars"
                f"{closest(str(var), variables)}; declared: {', '.join(variables) or 'none'}"
            )
        variables[var] = value
    tree = deep_merge(pipeline.defaults, body)
    _apply_overrides(where, variables, tree, overrides)
    for var, value in variables.items():
        if isinstance(value, str) and "${" in value:
            raise RlpipeError(f"{where}: vars: '{var}' may not reference other vars")
    tree = substitute(tree, variables, where)
    tree["family"], tree["name"] = family, name
    try:
        spec = Spec.model_validate(tree)
    except ValidationError as exc:
        raise RlpipeError(describe_validation_error(exc, where)) from None
    return ResolvedSpec(spec, spec_hash(spec), pipeline.path, variables, tuple(overrides))


@dataclass(frozen=True)
class SpecCheck:
    """The outcome of resolving one spec: the resolved spec, or the error message."""

    family: str
    name: str
    resolved: ResolvedSpec | None
    error: str | None


def check_all(pipelines_dir: Path, families: Sequence[str] = ()) -> list[SpecCheck]:
    """Resolve every spec of the given families (all when empty), collecting errors."""
    results = []
    for family in families or list_families(pipelines_dir):
        try:
            names = list(read_pipeline(family, pipelines_dir).specs)
        except RlpipeError as exc:
            results.append(SpecCheck(family, "*", None, str(exc)))
            continue
        for name in names:
            try:
                resolved = resolve_spec(family, name, (), pipelines_dir)
                results.append(SpecCheck(family, name, resolved, None))
            except RlpipeError as exc:
                results.append(SpecCheck(family, name, None, str(exc)))
    return results
