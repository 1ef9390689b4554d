"""`rlpipe compare`: is one run better than another, or is the difference noise?

Per-seed scores of each run (the report's score, each seed's final training-return moving
average, or its final evaluation return), then for every run against the first: the difference
of means and of IQMs with 95% stratified-bootstrap confidence intervals (seeds resampled within
each run, as rliable does), and the probability of improvement P(X > Y) over seed pairs (ties
count half), with its own interval. Higher returns are better. Runs of different envs are
refused unless asked for (their returns are on different scales), and a run of fewer than
MIN_SEEDS seeds gets its differences without intervals or a verdict: resampling one seed gives
the same value every time, so its interval would show no uncertainty at all. Not training code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np

from rlpipe.errors import RlpipeError
from rlpipe.rundir import DamagedRunFile, RunFolder, read_json

Metric = Literal["score", "eval"]
RESAMPLES = 10_000
CONFIDENCE = 0.95
MIN_SEEDS = 2
"""Seeds each run needs for a bootstrap interval and a verdict."""


@dataclass(frozen=True)
class RunScores:
    """One run's per-seed values of the compared metric."""

    label: str
    path: Path
    seeds: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        """Mean over seeds."""
        return float(np.mean(self.values))

    @property
    def iqm(self) -> float:
        """Interquartile mean over seeds."""
        return float(interquartile_means(np.asarray([self.values]))[0])


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% bootstrap interval."""

    value: float
    low: float
    high: float

    def spans_zero(self) -> bool:
        """Whether 0 lies inside the interval."""
        return self.low <= 0.0 <= self.high


@dataclass(frozen=True)
class Comparison:
    """A run against the baseline run (the first one named)."""

    baseline: RunScores
    other: RunScores
    mean_difference: Interval
    iqm_difference: Interval
    improvement_probability: Interval

    @property
    def has_intervals(self) -> bool:
        """Whether both runs have MIN_SEEDS seeds or more, so the intervals and the verdict
        mean something."""
        return min(len(self.baseline.values), len(self.other.values)) >= MIN_SEEDS

    @property
    def verdict(self) -> str:
        """Plain words: higher, lower, not distinguishable, or too few seeds to say."""
        a, b = self.baseline, self.other
        if not self.has_intervals:
            return (
                f"too few seeds for a CI or a verdict: {len(b.values)} and {len(a.values)} "
                f"seeds, and a bootstrap CI needs at least {MIN_SEEDS} per run"
            )
        if self.mean_difference.spans_zero():
            return (
                f"not distinguishable with {len(b.values)} and {len(a.values)} seeds: the 95% CI "
                "of the difference of means spans 0"
            )
        word = "higher" if self.mean_difference.value > 0 else "lower"
        return f"{b.label} is {word} than {a.label} (the 95% CI of the difference excludes 0)"


def resolve_run(argument: str, runs_dir: Path = Path("runs")) -> Path:
    """A run folder given as a path, or as a suite key (a folder under runs/)."""
    path = Path(argument)
    if path.is_dir():
        return path
    keyed = runs_dir / argument
    if "/" not in argument and keyed.is_dir():
        return keyed
    raise RlpipeError(f"no run folder at {argument} (nor a suite key under {runs_dir}/)")


def read_env_id(path: Path) -> str:
    """The env id a run trained on, from its spec.json (the spec itself is not validated)."""
    spec_file = RunFolder(path).spec_file
    fix = "compare finished run folders, or pass --any-env to skip the env check"
    saved = read_json(spec_file, fix)
    spec = saved.get("spec") if isinstance(saved, dict) else None
    env = spec.get("env") if isinstance(spec, dict) else None
    env_id = env.get("id") if isinstance(env, dict) else None
    if not isinstance(env_id, str):
        raise DamagedRunFile(f"{spec_file} is damaged (no spec.env.id); {fix}")
    return env_id


def require_one_env(runs: Sequence[RunScores]) -> None:
    """Raise an RlpipeError, naming the env ids, unless every run trained on the first's env."""
    baseline = read_env_id(runs[0].path)
    others = [(run.label, read_env_id(run.path)) for run in runs[1:]]
    different = [f"{label} on {env_id}" for label, env_id in others if env_id != baseline]
    if different:
        raise RlpipeError(
            f"{runs[0].label} trained on {baseline}, but {'; '.join(different)}: returns of "
            "different envs are on different scales, so their difference says nothing about "
            "which is better. Compare runs of one env, or pass --any-env to compare them anyway"
        )


def read_scores(path: Path, metric: Metric, label: str | None = None) -> RunScores:
    """Per-seed values of a finished run's summary.json."""
    summary = RunFolder(path).read_summary()
    key = "return_ma" if metric == "score" else "eval_return"
    pairs = [(seed.seed, getattr(seed, key)) for seed in summary.per_seed]
    missing = [seed for seed, value in pairs if value is None]
    if missing:
        raise RlpipeError(f"{path}: seeds {missing} have no {key}; compare another --metric")
    return RunScores(
        label or str(path),
        path,
        tuple(seed for seed, _ in pairs),
        tuple(float(value) for _, value in pairs),
    )


def interquartile_means(samples: np.ndarray) -> np.ndarray:
    """IQM of each row: the mean after trimming floor(n/4) values from each end."""
    ordered = np.sort(samples, axis=1)
    cut = ordered.shape[1] // 4
    return cast("np.ndarray", ordered[:, cut : ordered.shape[1] - cut].mean(axis=1))


def improvement_probabilities(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) over all pairs of a row of x and the same row of y; ties count half."""
    greater = (x[:, :, None] > y[:, None, :]).mean(axis=(1, 2))
    ties = (x[:, :, None] == y[:, None, :]).mean(axis=(1, 2))
    return cast("np.ndarray", greater + 0.5 * ties)


def compare(baseline: RunScores, other: RunScores, seed: int = 0) -> Comparison:
    """`other` against `baseline`, with stratified-bootstrap intervals fixed by `seed`."""
    a, b = np.asarray(baseline.values), np.asarray(other.values)
    rng = np.random.default_rng(seed)
    a_samples = a[rng.integers(0, a.size, size=(RESAMPLES, a.size))]
    b_samples = b[rng.integers(0, b.size, size=(RESAMPLES, b.size))]
    tail = (1.0 - CONFIDENCE) / 2.0 * 100.0

    def interval(point: float, resampled: np.ndarray) -> Interval:
        low, high = np.percentile(resampled, [tail, 100.0 - tail])
        return Interval(point, float(low), float(high))

    mean_difference = interval(
        float(b.mean() - a.mean()), b_samples.mean(axis=1) - a_samples.mean(axis=1)
    )
    iqm_difference = interval(
        float(interquartile_means(b[None])[0] - interquartile_means(a[None])[0]),
        interquartile_means(b_samples) - interquartile_means(a_samples),
    )
    probability = interval(
        float(improvement_probabilities(b[None], a[None])[0]),
        improvement_probabilities(b_samples, a_samples),
    )
    return Comparison(baseline, other, mean_difference, iqm_difference, probability)
