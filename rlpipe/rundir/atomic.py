"""Atomic file writes: a temp file beside the target, fsync, rename; clear errors on failure."""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from rlpipe.errors import RlpipeError


def write_error(path: Path, error: OSError) -> RlpipeError:
    """Return the user-facing error for an OS failure while writing `path`."""
    reason = error.strerror or str(error)
    return RlpipeError(
        f"could not write {path}: {reason}. Check free disk space and write permission in "
        f"{path.parent}; the previous file, if any, is unchanged."
    )


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry change to disk where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Write `path` through `write` into a temp file beside it, fsync, then rename over it."""
    target = Path(path)
    temp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise write_error(target, error) from error
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` atomically; on failure raise RlpipeError, old file intact."""
    _atomic_write(path, lambda stream: stream.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace `path` with UTF-8 `text` atomically (newlines written as given)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_ready(obj: Any) -> Any:
    """Return `obj` with NaN/inf floats turned into None and numpy scalars into Python ones."""
    if isinstance(obj, Mapping):
        return {key: json_ready(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(value) for value in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as canonical JSON (sorted keys, indent 2, newline); NaN/inf become null."""
    text = json.dumps(json_ready(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"
    atomic_write_text(path, text)


class _RecordingStream:
    """A file object for torch.save that remembers the OS error behind a failed write.

    torch reports a failed write (a full disk) as a RuntimeError from its zip writer
    ("inline_container.cc ... file write failed"); the OS error says what actually happened.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.stream.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        self.stream.flush()


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """torch.save `obj` to `path` atomically; on failure raise RlpipeError, old file intact."""
    import torch

    def write(stream: IO[bytes]) -> None:
        recording = _RecordingStream(stream)
        try:
            torch.save(obj, cast("IO[bytes]", recording))
        except RuntimeError:
            if recording.error is not None:
                raise recording.error from None
            raise

    _atomic_write(path, write)
