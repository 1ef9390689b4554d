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
    for key in raw:
        if not isinstance(key, str) or "=" in key or key != key.strip() or not key:
            raise RlpipeError(f"--overrides {path}: key {key!r} is not a var or dotted field name")
    return as_overrides(raw)


def write_overrides_file(path: Path, values: Mapping[str, Any], header: str) -> None:
    """Write values as an override file (one `key: value` line each) under a comment header."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    body = "".join(f"{key}: {format_value(value)}\n" for key, value in values.items())
    atomic_write_text(path, comment + body)
