"""A YAML loader with YAML 1.2 core-schema scalars and duplicate-key errors."""

from __future__ import annotations

import re
from typing import Any

import yaml

from rlpipe.errors import RlpipeError

# YAML 1.2 core schema: `4e6` and `1e-5` are floats (PyYAML's 1.1 rules read them as strings),
# and only true/false are booleans (1.1 also turns yes/no/on/off into booleans).
_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL_12 = re.compile(r"^(?:~|null|Null|NULL|)$")


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader whose implicit scalar types follow the YAML 1.2 core schema."""


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF")),
    ("tag:yaml.org,2002:int", _INT_12, list("-+0123456789")),
    ("tag:yaml.org,2002:float", _FLOAT_12, list("-+.0123456789")),
    ("tag:yaml.org,2002:null", _NULL_12, ["~", "n", "N", ""]),
):
    Yaml12Loader.add_implicit_resolver(_tag, _pattern, _first)


def _construct_int(loader: Yaml12Loader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text, 10)


def _construct_float(loader: Yaml12Loader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float("nan") if text == ".nan" else float(text)


def _construct_mapping(loader: Yaml12Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                mark,
            )
        seen[key] = key_node
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text; a syntax error becomes an RlpipeError with the line and column."""
    try:
        return yaml.load(text, Loader=Yaml12Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise RlpipeError(f"{where}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise RlpipeError(f"{source}: malformed YAML: {exc}") from None


def parse_scalar(text: str) -> Any:
    """Read one `-s name=value` value as a YAML 1.2 scalar (or flow list/mapping)."""
    if text == "":
        return ""
    return parse_yaml(text, "override value")
