"""The files and parameters suite stages are made from, and whether they changed.

`dvc commit` records a stage's inputs as they are when it is recorded, not as they were when
the stage started: a spec edited while its row trains, or report code edited before the repro
after it, would put in dvc.lock (and, with --git-commit, in a commit) a record that the outputs
came from files that did not make them. A stage's sources are its inputs that no stage makes,
and the sources of the code stages whose fingerprints it reads. A `SourceSnapshot` taken before
the first stage starts tells which of them changed since; `uncommitted` tells which differ from
git's HEAD, so that a commit holds outputs of committed inputs only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rlpipe.errors import RlpipeError
from rlpipe.suite_git import run_git


@dataclass(frozen=True, order=True)
class Source:
    """A file a stage depends on; for a params file, only the named keys (dotted paths)."""

    path: str
    keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.path} ({', '.join(self.keys)})" if self.keys else self.path


def _never(_: str) -> bool:
    return False


def stage_sources(
    stages: dict[str, Any], names: Iterable[str], through: Callable[[str], bool] = _never
) -> set[Source]:
    """The sources of the named stages of dvc.yaml's `stages`. An input made by a stage that
    `through` accepts counts as that stage's sources (a code fingerprint as its code files);
    one made by any other stage counts as made (its record is that stage's own)."""
    makers = {out: stage for stage, spec in stages.items() for out in stage_outs(spec)}
    found: set[Source] = set()
    seen: set[str] = set()
    todo = list(names)
    while todo:
        stage = todo.pop()
        if stage in seen or not isinstance(stages.get(stage), dict):
            continue
        seen.add(stage)
        spec = stages[stage]
        found.update(_params(spec.get("params") or []))
        for dep in map(str, spec.get("deps") or []):
            upstream = [maker for out, maker in makers.items() if overlaps(dep, out)]
            if not upstream:
                found.add(Source(dep))
            todo.extend(maker for maker in upstream if through(maker))
    return found


def _params(entries: list[Any]) -> list[Source]:
    sources = []
    for entry in entries:
        if isinstance(entry, dict):
            sources += [
                Source(str(path), tuple(map(str, keys or []))) for path, keys in entry.items()
            ]
        else:  # a bare key of DVC's default params file
            sources.append(Source("params.yaml", (str(entry),)))
    return sources


def stage_outs(spec: Any) -> list[str]:
    """The output paths of one stage of dvc.yaml."""
    if not isinstance(spec, dict):
        return []
    outs = spec.get("outs") or []
    return [str(next(iter(out))) if isinstance(out, dict) else str(out) for out in outs]


def overlaps(dep: str, out: str) -> bool:
    """Whether a dependency is the output, lies inside it, or holds it (a run folder)."""
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


class SourceSnapshot:
    """Sources as they were when taken; `changed` tells which differ now."""

    def __init__(self, root: Path, sources: Iterable[Source]) -> None:
        self._root = root
        self._taken = {source: _fingerprint(root, source) for source in sources}

    def changed(self, sources: Iterable[Source]) -> list[str]:
        """Those of `sources` that differ from the snapshot (or were not in it)."""
        return sorted(
            str(source)
            for source in set(sources)
            if self._taken.get(source) != _fingerprint(self._root, source)
        )


def _fingerprint(root: Path, source: Source) -> str:
    path = root / source.path
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                digest.update(file.relative_to(path).as_posix().encode() + b"\0")
                digest.update(file.read_bytes())
        return digest.hexdigest()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise RlpipeError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    return _content_fingerprint(data, source.keys)


def _content_fingerprint(data: bytes, keys: tuple[str, ...]) -> str:
    if not keys:
        return hashlib.sha256(data).hexdigest()
    try:  # only the keys count: an edit elsewhere in the file (another spec) changes nothing
        document = _parsed(data)
    except yaml.YAMLError:
        return "unreadable: " + hashlib.sha256(data).hexdigest()
    values = [_key_value(document, key) for key in keys]
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


@functools.lru_cache(maxsize=16)  # one pipeline file holds the params of many stages
def _parsed(data: bytes) -> Any:
    return yaml.safe_load(data)


def _key_value(document: Any, key: str) -> Any:
    value = document
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def uncommitted(root: Path, sources: Iterable[Source]) -> list[str]:
    """The sources that differ from git's HEAD (edited, staged, untracked or deleted)."""
    sources = set(sources)
    files = sorted({s.path for s in sources if not s.keys})
    dirty = set()
    if files:
        status = run_git(root, "status", "--porcelain", "--untracked-files=all", "--", *files)
        dirty = {line[3:].split(" -> ")[-1] for line in status.splitlines() if line.strip()}
    found = [str(s) for s in sources if not s.keys and _dirty(s.path, dirty)]
    heads = {s.path: _head_bytes(root, s.path) for s in sources if s.keys}
    for source in (s for s in sources if s.keys):
        head = heads[source.path]
        now = _fingerprint(root, source)
        if head is None or _content_fingerprint(head, source.keys) != now:
            found.append(str(source))
    return sorted(found)


def _dirty(path: str, dirty: set[str]) -> bool:
    return any(entry == path or entry.startswith(path.rstrip("/") + "/") for entry in dirty)


def _head_bytes(root: Path, path: str) -> bytes | None:
    """The file as git's HEAD has it; None when HEAD has no such file."""
    try:
        completed = subprocess.run(
            ["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True, check=False
        )
    except OSError as exc:
        raise RlpipeError(f"git show: {exc.strerror or exc}") from None
    return completed.stdout if completed.returncode == 0 else None


def listed(items: list[str], most: int = 8) -> str:
    """Items for a message: the first `most`, then how many more."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more
