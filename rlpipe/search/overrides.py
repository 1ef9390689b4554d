"""Override files: a YAML mapping of declared vars / dotted spec keys to values, the same
settings as `-s`, written by a search (its best values) and read by `rlpipe train --overrides`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlpipe.errors import RlpipeError
from rlpipe.rundir import atomic_write_text
from rlpipe.search.space import as_overrides, format_value, read_text
from rlpipe.spec.yaml12 import parse_yaml


def read_overrides_file(path: Path) -> list[str]:
    """The `-s name=value` strings of an override file, in the file's order."""
    if not path.is_file():
        raise RlpipeError(f"--overrides {path}: no such file")
    raw = parse_yaml(read_text(path, "--overrides file"), str(path))
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise RlpipeError(
            f"--overrides {path}: expected a mapping of names to values, e.g. "
            "'algorithm.critic_lr: 3.0e-4' or 'max_frame: 2e5'"
        )
    for key, value in raw.items():
        if not isinstance(key, str) or "=" in key or key != key.strip() or not key:
            raise RlpipeError(f"--overrides {path}: key {key!r} is not a var or dotted field name")
        if isinstance(value, dict) and value and "." not in key:
            lines = "; ".join(f"'{line}'" for line in _dotted(key, value)[:3])
            raise RlpipeError(
                f"--overrides {path}: '{key}' holds a nested mapping; an overrides file names "
                f"each setting by its dotted path, one per line: {lines}"
            )
    return as_overrides(raw)


def _dotted(prefix: str, mapping: Mapping[str, Any]) -> list[str]:
    """`a.b: value` lines of a nested mapping, depth first."""
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            lines += _dotted(f"{prefix}.{key}", value)
        else:
            lines.append(f"{prefix}.{key}: {format_value(value)}")
    return lines


def write_overrides_file(path: Path, values: Mapping[str, Any], header: str) -> None:
    """Write values as an override file (one `key: value` line each) under a comment header."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    body = "".join(f"{key}: {format_value(value)}\n" for key, value in values.items())
    atomic_write_text(path, comment + body)
