"""A local folder as the target of `rlpipe publish --folder` and a source of `rlpipe pull`: the
layout of the Hub's dataset repo (runs/<run_key>/...) written and read with the filesystem, so
that sharing runs works offline (a shared drive, a disk, a folder to rsync), with the same card
and the same checks on the way back in."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from rlpipe.errors import RlpipeError
from rlpipe.hub.client import REMOTE_RUNS_DIR, check_run_key

LOCAL_PREFIXES = ("/", "./", "../", "~")


def is_folder_source(source: str) -> bool:
    """Whether a pull source names a local folder: a path that starts like one (/, ./, ../, ~);
    a Hub repo id (namespace/name) never does."""
    return source.startswith(LOCAL_PREFIXES) or source in (".", "..")


def folder_root(source: str) -> Path:
    """The folder a local source names (~ expanded); RlpipeError if it is not a folder."""
    root = Path(source).expanduser()
    if not root.is_dir():
        raise RlpipeError(f"no folder {source} to pull from (a local source is a folder path)")
    return root


def _run_dir(root: Path, run_key: str) -> Path:
    check_run_key(run_key)
    return root / REMOTE_RUNS_DIR / run_key


def list_folder_run_files(root: Path, run_key: str) -> list[str]:
    """The files of runs/<run_key>/ in the folder, as relative paths, sorted ([] if no run)."""
    run_dir = _run_dir(root, run_key)
    if not run_dir.is_dir():
        return []
    names = []
    for path in sorted(run_dir.rglob("*")):
        if path.is_symlink():
            raise RlpipeError(f"{path} is a symlink: a published run holds plain files only")
        if path.is_file():
            names.append(path.relative_to(run_dir).as_posix())
    return names


def copy_folder_run_files(
    root: Path, run_key: str, paths: Iterable[str], folder: Path
) -> list[Path]:
    """Copy files of runs/<run_key>/ (relative paths) into folder/<path>; return the copies of
    those that exist, in order."""
    run_dir = _run_dir(root, run_key)
    found = []
    for name in paths:
        source = run_dir / PurePosixPath(name)
        if not source.is_file() or source.is_symlink():
            continue
        target = folder / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except OSError as error:
            raise RlpipeError(f"copying {source} failed: {error.strerror or error}") from None
        found.append(target)
    return found


def write_folder_run(root: Path, run_key: str, files: Iterable[tuple[str, Path]]) -> Path:
    """Put one run's files (paths relative to runs/<run_key>/, local copies) at
    root/runs/<run_key>, whole: they are copied beside it first, and an older copy of the run is
    replaced only once the new one is complete. Return the run's folder."""
    run_dir = _run_dir(root, run_key)
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{run_key}.publish-", dir=run_dir.parent) as tmp:
            staging = Path(tmp) / "run"
            for name, local in files:
                target = staging / PurePosixPath(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local, target)
            replace_with(run_dir, staging, Path(tmp))
    except OSError as error:
        raise RlpipeError(
            f"publishing run {run_key} into {root} failed ({error.strerror or error}); the run's "
            "folder there is as it was"
        ) from None
    return run_dir


def replace_with(out: Path, staging: Path, scratch: Path) -> None:
    """Put the complete staging folder at `out`; an old `out` is moved aside first and removed
    only once the new one is in place (restored if the move fails)."""
    old = scratch / "old"
    if out.exists():
        out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        if old.exists():
            old.rename(out)
        raise
    if old.is_dir():
        shutil.rmtree(old)
    elif old.exists():
        old.unlink()
