"""The OpenMP wait policy, chosen when rlpipe starts from how busy the cores are."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

COMPUTE_COMMANDS = frozenset({"train", "bench", "search", "suite", "eval", "enjoy", "summarize"})
"""Commands that run torch's threads, for which the OpenMP wait policy is chosen at start."""

BUSY_PER_CORE = 0.5
"""Other runnable processes per core from which a run's OpenMP threads wait passively."""


def runnable_others(samples: int = 5) -> float | None:
    """Processes other than this one that are running or ready to run now (the median of a few
    readings of /proc/loadavg 10 ms apart; the load averages lag by minutes); None off Linux."""
    counts = []
    for _ in range(samples):
        try:
            running = Path("/proc/loadavg").read_text().split()[3]
        except (OSError, IndexError):
            return None
        counts.append(int(running.split("/")[0]) - 1)
        time.sleep(0.01)
    return float(statistics.median(counts))


def choose_omp_wait_policy(others: Callable[[], float | None] = runnable_others) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE when other processes keep the cores busy, before torch loads.

    OpenMP threads spin while they wait for each other; beside other busy processes, the spinning
    steals the time the threads wait for. Measured with `rlpipe bench crossq pendulum-quick
    --no-compile --threads 2` on 2 cores: idle, 55.6 env frames/s spinning, 28.1 passive; beside
    two busy training processes, 14.3 spinning, 33.9 passive. So the policy follows the load at
    start. It changes only waiting, never numbers; a policy the user set is kept.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return os.environ["OMP_WAIT_POLICY"]
    busy = others()
    if busy is not None and busy >= BUSY_PER_CORE * (os.cpu_count() or 1):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return "PASSIVE"
    return None
