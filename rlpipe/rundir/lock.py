"""One writer per run folder (or per seed group of it), through flock'ed lock files beside it.

A whole-run `rlpipe train` holds the run's lock exclusively. A seed-group train (a suite stage
that trains some seeds of a run) holds the run's lock shared, so that groups can train side by
side but never beside a whole-run writer, and its group's lock exclusively. The kernel releases
an flock when its owner exits, however it exits, so a lock left by a killed run is never in
the way; the file records the owner's pid for the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from rlpipe.errors import RlpipeError


def lock_path(run_dir: Path, group: str | None = None) -> Path:
    """The lock file of a run folder (or of one of its seed groups): beside the folder, so
    that --overwrite can delete the folder while holding it."""
    suffix = f".{group}" if group else ""
    return run_dir.parent / f".{run_dir.name}{suffix}.lock"


def _open_locked(path: Path, mode: int, what: Path) -> int:
    """An fd of path holding an flock in `mode`, or raise RlpipeError naming the holder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RlpipeError(
            f"{path.parent} cannot be written ({error.strerror or error}); choose a writable folder"
        ) from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise RlpipeError(
                f"{path.parent} cannot be written: no lock file {path.name} "
                f"({error.strerror or error}); choose a writable folder"
            ) from None
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RlpipeError(
                f"{what} is being written by {owner}; wait for it to finish or stop it, or "
                "train into another folder with --out"
            ) from None
        # The holder before us may have removed the file after we opened it: lock the live one.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _release(path: Path, fd: int) -> None:
    """Unlock; remove the file if no one else holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with contextlib.suppress(OSError):
            os.unlink(path)
    except BlockingIOError:
        pass  # another group still holds it shared
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_folder_lock(run_dir: Path, group: str | None = None) -> Iterator[None]:
    """Hold the run folder's lock (exclusive, or shared plus the group's own for a group). The
    lock is the resolved folder's: two paths to one folder (a symlink) take the same lock."""
    run_dir = Path(run_dir).resolve()
    owner = f"rlpipe train (pid {os.getpid()} on {socket.gethostname()})".encode()
    locks: list[tuple[Path, int]] = []
    try:
        run_lock = lock_path(run_dir)
        mode = fcntl.LOCK_SH if group else fcntl.LOCK_EX
        locks.append((run_lock, _open_locked(run_lock, mode, run_dir)))
        if group:
            group_lock = lock_path(run_dir, group)
            locks.append((group_lock, _open_locked(group_lock, fcntl.LOCK_EX, run_dir / group)))
        for _, fd in locks:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, owner, 0)
        yield
    finally:
        for path, fd in reversed(locks):
            _release(path, fd)
