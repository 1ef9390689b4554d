"""Sample efficiency: the first logged frame at which each seed's training return reached a target.

A seed reaches the target at the first row of its metrics.csv (in frame order) whose `return_ma`
(the moving average of the last `meta.return_window` training-episode returns, the quantity the
score is the final value of) is at or above the target. Its resolution is the log interval; a
seed that never reaches the target has no frame.
"""

from __future__ import annotations

from pathlib import Path

from rlpipe.rundir import RunFolder, SeedFolder


def seed_frames_to_target(seed: SeedFolder, target: float) -> int | None:
    """Return the first logged frame at which the seed's return_ma >= target, None if never."""
    reached = []
    for row in seed.read_metrics():
        frame, return_ma = row.get("frame"), row.get("return_ma")
        if frame is not None and return_ma is not None and return_ma >= target:
            reached.append(int(frame))
    return min(reached) if reached else None


def frames_to_target(run_dir: Path, seeds: list[int], target: float) -> list[int | None]:
    """Return, per seed in `seeds`, the frame at which it first reached `target` (None: never)."""
    run = RunFolder(run_dir)
    return [seed_frames_to_target(run.seed(seed), target) for seed in seeds]


def mean_reached(per_seed: list[int | None]) -> float | None:
    """Return the mean frame over the seeds that reached the target, None if none did."""
    reached = [frame for frame in per_seed if frame is not None]
    return sum(reached) / len(reached) if reached else None
