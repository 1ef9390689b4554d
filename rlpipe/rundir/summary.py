"""The score of a run: per-seed results into summary.json (the one definition of "score")."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from pydantic import BaseModel, ConfigDict

from rlpipe.errors import RlpipeError
from rlpipe.rundir.atomic import json_ready
from rlpipe.stats import bootstrap_ci, iqm

_SEED_KEYS = ("seed", "return_ma", "frames", "wall_s", "fps")


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


class SeedResult(_Record):
    """One seed's final numbers (seed-K/result.json)."""

    seed: int
    return_ma: float | None
    eval_return: float | None = None
    frames: int
    wall_s: float
    fps: float
    device: str | None = None
    torch_threads: int | None = None
    updates: int | None = None  # gradient updates made (critic updates for SAC and CrossQ)


class Summary(_Record):
    """A run's summary.json: the score over seeds and the per-seed results behind it."""

    score: float | None
    score_iqm: float | None
    score_ci95: tuple[float, float] | None
    eval_return: float | None
    frames: int
    fps: float
    wall_s: float
    seeds: list[int]
    per_seed: list[SeedResult]
    cpu_core_s: float | None = None
    gpu_s: float | None = None
    updates_per_frame: float | None = None  # gradient updates per env frame, from the runs


def _mean_or_none(values: list[float | None]) -> float | None:
    """Return the mean of `values`, or None if any is missing or not finite."""
    if any(value is None or not math.isfinite(value) for value in values):
        return None
    return float(np.mean(np.asarray(values, dtype=np.float64)))


def _seed_result(where: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """Return one seed's result with plain Python types, raising ValueError on missing keys."""
    missing = [key for key in _SEED_KEYS if key not in result]
    if missing:
        raise ValueError(f"seed result for {where} lacks {missing}: got {sorted(result)}")

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    seed = {
        "seed": int(result["seed"]),
        "return_ma": number(result["return_ma"]),
        "eval_return": number(result.get("eval_return")),
        "frames": int(result["frames"]),
        "wall_s": float(result["wall_s"]),
        "fps": float(result["fps"]),
    }
    for key in ("device", "torch_threads", "updates"):
        if result.get(key) is not None:
            seed[key] = result[key]
    return seed


def _compute(per_seed: list[dict[str, Any]]) -> dict[str, float | None]:
    """Compute used: CPU core-seconds (wall time x torch threads) and GPU-seconds, summed over
    seeds; None where a seed did not record its device and threads."""
    if any("device" not in seed or "torch_threads" not in seed for seed in per_seed):
        return {"cpu_core_s": None, "gpu_s": None}
    on_gpu = [seed for seed in per_seed if str(seed["device"]).startswith("cuda")]
    on_cpu = [seed for seed in per_seed if seed not in on_gpu]
    return {
        "cpu_core_s": sum(seed["wall_s"] * seed["torch_threads"] for seed in on_cpu),
        "gpu_s": sum(seed["wall_s"] for seed in on_gpu),
    }


def summarize(where: str, seed_results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The summary of a run (`where` names it in errors) from its per-seed results.

    `score` is the one definition of a run's score: the mean over seeds of the final training
    return moving average (`return_ma`). `score_iqm` and `score_ci95` (95% percentile bootstrap
    of the mean, seed 0) are over the same per-seed values. Score fields are None if any seed
    has no finite `return_ma` (e.g. no episode finished); `eval_return` is None if any seed
    lacks one. All seeds must have run the same number of frames.
    """
    if not seed_results:
        raise ValueError(f"write_summary for {where} needs at least one seed result")
    per_seed = sorted((_seed_result(where, r) for r in seed_results), key=lambda r: r["seed"])
    seeds = [r["seed"] for r in per_seed]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"duplicate seeds in results for {where}: {seeds}")
    frames = {r["frames"] for r in per_seed}
    if len(frames) != 1:
        detail = ", ".join(f"seed {r['seed']}: {r['frames']}" for r in per_seed)
        raise RlpipeError(
            f"seeds of {where} ran different numbers of frames ({detail}); a run's seeds "
            "must all finish (resume the short ones with --resume) before it is summarised"
        )
    returns = [r["return_ma"] for r in per_seed]
    score = _mean_or_none(returns)
    summary = {
        "score": score,
        "score_iqm": None if score is None else iqm(returns),
        "score_ci95": None if score is None else list(bootstrap_ci(returns, seed=0)),
        "eval_return": _mean_or_none([r["eval_return"] for r in per_seed]),
        "frames": frames.pop(),
        "fps": float(np.mean([r["fps"] for r in per_seed])),
        "wall_s": max(r["wall_s"] for r in per_seed),
        "seeds": seeds,
        "per_seed": per_seed,
        **_compute(per_seed),
        "updates_per_frame": _updates_per_frame(per_seed),
    }
    return cast("dict[str, Any]", json_ready(summary))


def _updates_per_frame(per_seed: list[dict[str, Any]]) -> float | None:
    """Gradient updates per env frame, mean over seeds, as counted by the runs; None where a
    seed did not count them (runs from before the count)."""
    if any("updates" not in seed for seed in per_seed):
        return None
    return float(np.mean([seed["updates"] / seed["frames"] for seed in per_seed]))
