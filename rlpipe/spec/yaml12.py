"""A YAML loader with YAML 1.2 core-schema scalars, duplicate-key errors and limits for
untrusted files: no aliases, bounded size and nesting, plain values only."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any, cast

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

MAX_YAML_BYTES = 1_000_000
"""Largest YAML file rlpipe reads (the shipped pipeline files are a few kilobytes)."""
MAX_YAML_DEPTH = 64
"""Deepest nesting of mappings and lists (a spec needs about 6 levels)."""


class RefusedYamlError(yaml.MarkedYAMLError):  # type: ignore[misc]  # yaml has no type information
    """Valid YAML that rlpipe refuses to read: an alias, too deep, an odd tag or character."""


class Yaml12Loader(yaml.SafeLoader):  # type: ignore[misc]  # yaml has no type information
    """SafeLoader whose implicit scalar types follow the YAML 1.2 core schema.

    Aliases are refused: a few hundred bytes of nested aliases (a "billion laughs") expand to
    gigabytes once the tree is walked. Nesting is capped before Python's recursion limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """Compose one node, refusing aliases, nesting beyond MAX_YAML_DEPTH and control
        characters in scalars."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise RefusedYamlError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not allowed in rlpipe files; write the "
                "values out (a pipeline's defaults: block shares settings between its specs)",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise RefusedYamlError(
                    None,
                    None,
                    f"nested deeper than {MAX_YAML_DEPTH} levels; rlpipe files are not that deep",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.ScalarNode):
            _refuse_control_characters(node)
        return node


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF")),
    ("tag:yaml.org,2002:int", _INT_12, list("-+0123456789")),
    ("tag:yaml.org,2002:float", _FLOAT_12, list("-+.0123456789")),
    ("tag:yaml.org,2002:null", _NULL_12, ["~", "n", "N", ""]),
):
    Yaml12Loader.add_implicit_resolver(_tag, _pattern, _first)


def _refuse_control_characters(node: yaml.ScalarNode) -> None:
    """Raise RefusedYamlError if a scalar holds a control character (e.g. from a "\\e" escape),
    which would reach the terminal raw when the value is echoed."""
    for char in node.value:
        if unicodedata.category(char) == "Cc":
            raise RefusedYamlError(
                None,
                None,
                f"the value holds the control character U+{ord(char):04X}; values are plain "
                "text (no escape sequences, tabs or line breaks)",
                node.start_mark,
            )


def _construct_int(loader: Yaml12Loader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    try:
        if text.startswith("0o"):
            return int(text[2:], 8)
        return int(text, 0) if text.startswith("0x") else int(text, 10)
    except ValueError as error:  # e.g. more digits than Python converts (sys.int_info)
        raise RefusedYamlError(
            None, None, f"cannot read integer: {error}", node.start_mark
        ) from None


def _refuse_tag(loader: Yaml12Loader, node: yaml.Node) -> Any:
    raise RefusedYamlError(
        None,
        None,
        f"the tag {node.tag} is not supported; rlpipe files hold strings, numbers, booleans, "
        "null, lists and mappings",
        node.start_mark,
    )


def _construct_float(loader: Yaml12Loader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float("nan") if text == ".nan" else float(text)


def _construct_mapping(
    loader: Yaml12Loader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
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
    return cast("dict[Any, Any]", yaml.SafeLoader.construct_mapping(loader, node, deep=deep))


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
for _tag in ("binary", "timestamp", "set", "omap", "pairs"):
    Yaml12Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text; a syntax error or a refused construct becomes an RlpipeError with the
    line and column."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_YAML_BYTES:
        raise RlpipeError(f"{source}: {_too_large(size)}")
    try:
        return yaml.load(text, Loader=Yaml12Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        kind = "" if isinstance(exc, RefusedYamlError) else "malformed YAML: "
        raise RlpipeError(f"{where}: {kind}{problem}") from None
    except yaml.YAMLError as exc:
        raise RlpipeError(f"{source}: malformed YAML: {exc}") from None


def _too_large(size: int) -> str:
    return f"{size:,} bytes is larger than the {MAX_YAML_BYTES:,} an rlpipe YAML file may have"


def read_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file under the loader's limits, size checked before reading."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise RlpipeError(f"{path}: {_too_large(size)}")
        with path.open("rb") as stream:
            data = stream.read(MAX_YAML_BYTES + 1)  # the file may have grown since stat
        if len(data) > MAX_YAML_BYTES:
            raise RlpipeError(f"{path}: {_too_large(len(data))}")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RlpipeError(f"{path}: cannot read: {exc}") from None
    return parse_yaml(text, str(path))


def parse_scalar(text: str) -> Any:
    """Read one `-s name=value` value as a YAML 1.2 scalar (or flow list/mapping)."""
    if text == "":
        return ""
    return parse_yaml(text, "override value")
