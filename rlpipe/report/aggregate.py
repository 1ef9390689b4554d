"""Scores across envs in the manner of rliable (Agarwal et al., 2021), with numpy only.

Each run's per-seed scores are normalised per env as (score - random) / (target - random), with
the return of a uniform-random policy from references/random_scores.csv: 0 is random play, 1 is
the suite's target. Per algorithm, the interquartile mean (IQM) of all its normalised runs
(env x seed) gets a 95% stratified-bootstrap confidence interval: each resample draws seeds with
replacement within each env, so every env keeps its number of runs. A performance profile is,
for each threshold tau, the fraction of runs whose normalised score is above tau, averaged over
envs so that each env weighs the same.

rliable itself (PyPI `rliable` 1.2.0, August 2024) installs here but pulls arch, scipy, pandas,
statsmodels and seaborn, and its stratified bootstrap draws indices from numpy's global random
state (np.random.choice) rather than the random_state it is given, while `rlpipe audit` must
re-derive the same interval from the same runs. So these few functions, which follow its
definitions (IQM = 25% trimmed mean over all runs, percentile intervals, runs resampled within
each task, profile = fraction of runs above tau), are tested against hand-computed values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from rlpipe.algos.registry import display_name
from rlpipe.errors import RlpipeError
from rlpipe.report.references import read_reference_csv
from rlpipe.rundir import RunFolder
from rlpipe.spec.suite import CATEGORIES, Suite
from rlpipe.stats import iqm

RANDOM_SCORES = Path("references/random_scores.csv")
CONFIDENCE = 0.95
RESAMPLES = 10_000
PROFILE_RESAMPLES = 2_000
BOOTSTRAP_SEED = 0
AGGREGATE_COLUMNS = ("Algorithm", "Envs", "Runs", "IQM normalised score (95% CI)")


@dataclass(frozen=True)
class RunScores:
    """The final per-seed scores of one finished suite run, with its env's target."""

    run: str
    family: str
    env_id: str
    target: float
    seed_scores: tuple[float, ...]


@dataclass(frozen=True)
class AlgorithmScores:
    """One algorithm's normalised scores, one array of seeds per env, in suite order."""

    algorithm: str  # as the report names it (algorithm_of)
    family: str  # the pipeline family of its runs, for its colour
    env_ids: tuple[str, ...]
    by_env: tuple[np.ndarray, ...]

    @property
    def runs(self) -> int:
        """The number of (env, seed) runs."""
        return sum(scores.size for scores in self.by_env)


# --------------------------------------------------------------------------- inputs


def read_random_scores(path: Path = RANDOM_SCORES) -> dict[str, float]:
    """Return {env id: random-policy return} from the reference CSV; {} if the file is absent."""
    columns, records = read_reference_csv(path)
    if not columns:
        return {}
    if not {"env", "random_score"} <= set(columns):
        raise RlpipeError(f"{path} needs the columns env and random_score; restore it from git")
    scores = {}
    for line_number, record in enumerate(records, start=2):
        cell = (record.get("random_score") or "").strip()
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise RlpipeError(
                f"{path}, row {line_number} ({record.get('env')}): random_score {cell!r} is not "
                "a finite number; restore the file from git or re-measure it with "
                "tools/random_scores.py"
            )
        if record["env"] in scores:
            raise RlpipeError(
                f"{path}, row {line_number}: {record['env']} is listed twice; keep one row per env"
            )
        scores[record["env"]] = value
    return scores


def algorithm_of(run: RunScores) -> str:
    """The name a run is aggregated under: its algorithm's display name (CrossQ, SAC, ...)."""
    return display_name(run.family)


def collect_scores(suite: Suite, runs_root: Path = Path("runs")) -> list[RunScores]:
    """Return the per-seed scores of every finished suite run whose seeds all have a score.

    Runs are in report order (category, env, run order in the suite). A seed's score is its
    final `return_ma`, the value whose mean over seeds is the run's score. Parity runs (a
    `peer` entry) are left out: they score another library's implementation, not rlpipe's.
    """
    collected = []
    for category in CATEGORIES:
        for spec_name, env in suite.envs.items():
            if env.category != category:
                continue
            for key, run in suite.runs.items():
                folder = RunFolder(Path(runs_root) / key)
                if run.spec != spec_name or run.peer is not None or not folder.finished():
                    continue
                summary = folder.read_summary()
                if summary.score is None:
                    continue
                # a score exists only when every seed has a finite return_ma
                scores = tuple(s.return_ma for s in summary.per_seed if s.return_ma is not None)
                collected.append(RunScores(key, run.family, env.id, env.target, scores))
    return collected


def normalise(score: float, random: float, target: float) -> float:
    """Return (score - random) / (target - random): 0 at random play, 1 at the target."""
    if target == random:
        raise RlpipeError(
            f"cannot normalise: the target {target} equals the random-policy score; raise the "
            "target in the suite file or correct references/random_scores.csv"
        )
    return (score - random) / (target - random)


def normalised_by_algorithm(
    runs: list[RunScores], random_scores: dict[str, float]
) -> list[AlgorithmScores]:
    """Return each algorithm's normalised seed scores per env, for runs whose env has a random
    score; algorithms in order of first appearance."""
    grouped: dict[str, dict[str, list[float]]] = {}
    families: dict[str, str] = {}
    for run in runs:
        if run.env_id not in random_scores:
            continue
        random = random_scores[run.env_id]
        algorithm = algorithm_of(run)
        families.setdefault(algorithm, run.family)
        grouped.setdefault(algorithm, {}).setdefault(run.env_id, []).extend(
            normalise(score, random, run.target) for score in run.seed_scores
        )
    return [
        AlgorithmScores(
            algorithm,
            families[algorithm],
            tuple(by_env),
            tuple(np.asarray(scores, dtype=np.float64) for scores in by_env.values()),
        )
        for algorithm, by_env in grouped.items()
    ]


# --------------------------------------------------------------------------- statistics


def _trimmed_means(samples: np.ndarray) -> np.ndarray:
    """Return the IQM of each row (rlpipe.stats.iqm, vectorised over rows)."""
    ordered = np.sort(samples, axis=1)
    cut = ordered.shape[1] // 4
    return cast("np.ndarray", ordered[:, cut : ordered.shape[1] - cut].mean(axis=1))


def _resample_within_envs(
    by_env: tuple[np.ndarray, ...], resamples: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Return, per env, `resamples` rows of that env's seeds drawn with replacement."""
    return [
        scores[rng.integers(0, scores.size, size=(resamples, scores.size))] for scores in by_env
    ]


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[Any, Any]:
    """Return the (lo, hi) percentiles of `values` along axis 0 for a central interval."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail], axis=0)
    return lo, hi


def iqm_with_ci(
    by_env: tuple[np.ndarray, ...],
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, tuple[float, float]]:
    """Return the IQM of all runs and its percentile stratified-bootstrap interval."""
    pooled = np.concatenate(by_env)
    rng = np.random.default_rng(seed)
    resampled = np.concatenate(_resample_within_envs(by_env, resamples, rng), axis=1)
    lo, hi = _percentile_interval(_trimmed_means(resampled), confidence)
    return iqm(pooled), (float(lo), float(hi))


def performance_profile(by_env: tuple[np.ndarray, ...], taus: np.ndarray) -> np.ndarray:
    """Return, per tau, the fraction of runs with a normalised score above tau (mean over envs)."""
    fractions = [(scores[:, None] > taus[None, :]).mean(axis=0) for scores in by_env]
    return cast("np.ndarray", np.mean(fractions, axis=0))


def profile_with_ci(
    by_env: tuple[np.ndarray, ...],
    taus: np.ndarray,
    resamples: int = PROFILE_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the performance profile and its stratified-bootstrap (lo, hi) band per tau."""
    rng = np.random.default_rng(seed)
    resampled = _resample_within_envs(by_env, resamples, rng)
    fractions = [(rows[:, :, None] > taus[None, None, :]).mean(axis=1) for rows in resampled]
    lo, hi = _percentile_interval(np.mean(fractions, axis=0), confidence)
    return performance_profile(by_env, taus), lo, hi


def profile_taus(algorithms: list[AlgorithmScores], points: int = 201) -> np.ndarray:
    """Return the thresholds of the profile: from min(0, lowest) to max(1.5, highest) score."""
    scores = [np.concatenate(a.by_env) for a in algorithms if a.by_env]
    lowest = min([0.0, *(float(s.min()) for s in scores)])
    highest = max([1.5, *(float(s.max()) for s in scores)])
    return np.linspace(lowest, highest, points)


# --------------------------------------------------------------------------- rows and cells


@dataclass(frozen=True)
class Aggregate:
    """The aggregate section's numbers: one row per algorithm, and what they rest on."""

    rows: list[dict[str, Any]]  # algorithm, envs, runs, iqm, ci95
    random_scores: dict[str, float]  # the random-policy score of each env that was normalised
    left_out: list[str]  # ids of envs with finished runs but no random-policy score

    def to_json(self) -> dict[str, Any]:
        """Return the aggregate as the data benchmarks.json carries."""
        return {
            "normalisation": "(score - random) / (target - random)",
            "statistic": "IQM over (env, seed) runs",
            "ci": f"{CONFIDENCE:.0%} percentile stratified bootstrap, {RESAMPLES} resamples, "
            f"seed {BOOTSTRAP_SEED}",
            "random_scores": self.random_scores,
            "left_out_envs": self.left_out,
            "rows": self.rows,
        }


def suite_aggregate(
    suite: Suite,
    runs_root: Path = Path("runs"),
    random_scores: Path = RANDOM_SCORES,
) -> Aggregate:
    """Return the aggregate of a suite's finished runs: per algorithm, IQM and 95% CI."""
    runs = collect_scores(suite, runs_root)
    known = read_random_scores(random_scores)
    rows = []
    for scores in normalised_by_algorithm(runs, known):
        value, ci95 = iqm_with_ci(scores.by_env)
        rows.append(
            {
                "algorithm": scores.algorithm,
                "envs": list(scores.env_ids),
                "runs": scores.runs,
                "iqm": value,
                "ci95": list(ci95),
            }
        )
    used = {run.env_id: known[run.env_id] for run in runs if run.env_id in known}
    left_out = list(dict.fromkeys(run.env_id for run in runs if run.env_id not in known))
    return Aggregate(rows, used, left_out)


def aggregate_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """Return the exact Markdown cells of one aggregate row, keyed by AGGREGATE_COLUMNS."""
    lo, hi = row["ci95"]
    return {
        "Algorithm": row["algorithm"],
        "Envs": str(len(row["envs"])),
        "Runs": str(row["runs"]),
        "IQM normalised score (95% CI)": f"{row['iqm']:.2f} [{lo:.2f}, {hi:.2f}]",
    }
