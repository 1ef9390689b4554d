"""One writer per run folder: an exclusive lock held while `rlpipe train` writes into it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from rlpipe.errors import RlpipeError


def lock_path(run_dir: Path) -> Path:
    """The lock file of a run folder: beside it, so that --overwrite can delete the folder."""
    return run_dir.parent / f".{run_dir.name}.lock"


@contextlib.contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's lock, or raise RlpipeError naming the process that holds it.

    The lock is an flock on a file that records the owner's pid and host: the kernel releases it
    when the owner exits, however it exits, so a lock left by a killed run is never in the way.
    """
    path = lock_path(Path(run_dir))
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
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RlpipeError(
                f"{run_dir} is being written by {owner}; wait for it to finish or stop it, or "
                "train into another folder with --out"
            ) from None
        # The holder before us may have removed the file after we opened it: lock the live one.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"rlpipe train (pid {os.getpid()} on {socket.gethostname()})".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
