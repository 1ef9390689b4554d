"""Run a command that gets SIGTERM when the process that started it dies, even by SIGKILL.

`python -m rlpipe.die_with_parent COMMAND...` asks Linux for a parent-death signal, then
replaces itself with COMMAND (the request survives exec), so a search or suite run that is
killed leaves no training behind. Elsewhere it just runs COMMAND.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    """Exec argv with SIGTERM as its parent-death signal (Linux; a plain exec elsewhere)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
