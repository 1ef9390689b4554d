"""Runs' scores at one frame, side by side: per seed the training moving average (return_ma, the
score's definition) and the last deterministic eval at or before that frame, with the mean and
its bootstrap 95% CI over seeds (rlpipe.stats, as summary.json computes them). For comparing
runs of different lengths at a common frame, e.g. fp32 against bf16:

    python tools/score_at_frame.py runs/crossq-hopper scratch/parity/crossq-hopper-bf16 \
        --frame 100000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rlpipe.rundir import RunFolder
from rlpipe.stats import bootstrap_ci


def at_frame(run: RunFolder, frame: int) -> list[tuple[int, float, float | None, float]]:
    """(seed, return_ma, last eval_return, mean fps) of each seed's row at `frame`."""
    found = []
    for seed in run.seeds_with_metrics():
        rows = [r for r in seed.read_metrics() if r["frame"] <= frame]
        if not rows or rows[-1]["frame"] != frame:
            raise SystemExit(f"{seed.path}: no metrics row at frame {frame}")
        evals = [r["eval_return"] for r in rows if r["eval_return"] is not None]
        fps = frame / rows[-1]["wall_s"]
        found.append((seed.seed, rows[-1]["return_ma"], evals[-1] if evals else None, fps))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--frame", type=int, required=True, help="the frame to read")
    args = parser.parse_args()
    for path in args.runs:
        seeds = at_frame(RunFolder(path), args.frame)
        scores = np.array([s[1] for s in seeds])
        lo, hi = bootstrap_ci(scores)
        evals = [s[2] for s in seeds if s[2] is not None]
        print(f"{path} at frame {args.frame:,}: score {scores.mean():.1f} [{lo:.1f}, {hi:.1f}]"
              f", eval {np.mean(evals):.1f}, {np.mean([s[3] for s in seeds]):.1f} frames/s/seed")  # fmt: skip
        for seed, score, evaluation, fps in seeds:
            shown = "-" if evaluation is None else f"{evaluation:.1f}"
            print(f"  seed {seed}: return_ma {score:.1f}, eval {shown}, {fps:.1f} frames/s")


if __name__ == "__main__":
    main()
