"""Score statistics for summaries and reports: IQM, bootstrap CI, moving average (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Rows of bootstrap resamples drawn per batch; bounds memory to _RESAMPLE_BATCH * len(values).
_RESAMPLE_BATCH = 1_000


def _finite_1d(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    """Return `values` as a non-empty 1-D float array of finite numbers, else raise ValueError."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{what} needs a 1-D sequence of numbers, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{what} needs at least one value, got none")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} needs finite values, got {array.tolist()}")
    return array


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """Return the interquartile mean: the mean after trimming floor(n/4) values from each end.

    This is scipy.stats.trim_mean(values, 0.25), the aggregate rliable calls IQM: for n=8 the
    two lowest and two highest values are dropped. For fewer than 4 values nothing is trimmed,
    so the IQM is the plain mean. Raises ValueError for empty or non-finite input.
    """
    array = np.sort(_finite_1d(values, "iqm"))
    cut = array.size // 4
    return float(np.mean(array[cut : array.size - cut]))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Return the percentile-bootstrap (lo, hi) confidence interval of the mean, fixed by seed.

    Resamples are drawn with np.random.default_rng(seed), so the same inputs always give the
    same interval. A single value, or identical values, give (v, v).
    """
    array = _finite_1d(values, "bootstrap_ci")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"bootstrap_ci confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"bootstrap_ci n_resamples must be >= 1, got {n_resamples}")
    if np.all(array == array[0]):
        value = float(array[0])
        return value, value
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, _RESAMPLE_BATCH):
        stop = min(start + _RESAMPLE_BATCH, n_resamples)
        indices = rng.integers(0, array.size, size=(stop - start, array.size))
        means[start:stop] = array[indices].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> list[float]:
    """Return the trailing mean of the last `window` items at each position (fewer at the start)."""
    if window < 1:
        raise ValueError(f"moving_average window must be >= 1, got {window}")
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"moving_average needs a 1-D sequence, got shape {array.shape}")
    if array.size == 0:
        return []
    head = min(window - 1, array.size)
    averages = [float(np.mean(array[: i + 1])) for i in range(head)]
    if array.size >= window:
        windows = np.lib.stride_tricks.sliding_window_view(array, window)
        averages.extend(float(x) for x in windows.mean(axis=1))
    return averages
