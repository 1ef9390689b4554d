"""`rlpipe compare`'s statistics: stratified-bootstrap intervals and the probability of
improvement, on hand-checkable seed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlpipe.comparison import (
    RunScores,
    compare,
    improvement_probabilities,
    interquartile_means,
)


def scores(label, *values):
    return RunScores(label, Path(label), tuple(range(len(values))), tuple(values))


def test_probability_of_improvement_counts_pairs_and_ties_half():
    x = np.array([[3.0, 1.0]])
    y = np.array([[2.0, 1.0]])
    # pairs (3,2) (3,1) win, (1,2) loses, (1,1) ties: (2 + 0.5) / 4
    assert improvement_probabilities(x, y)[0] == pytest.approx(0.625)


def test_iqm_trims_a_quarter_from_each_end():
    assert interquartile_means(np.array([[1.0, 2.0, 3.0, 100.0]]))[0] == pytest.approx(2.5)
    assert interquartile_means(np.array([[1.0, 5.0]]))[0] == pytest.approx(3.0)


def test_clearly_separated_runs_are_distinguishable():
    result = compare(scores("a", 10, 11, 12, 13), scores("b", 20, 21, 22, 23))
    assert result.mean_difference.value == pytest.approx(10.0)
    assert 8.0 <= result.mean_difference.low <= 10.0 <= result.mean_difference.high <= 12.0
    assert result.improvement_probability.value == 1.0
    assert result.improvement_probability.low == 1.0
    assert result.verdict == "b is higher than a (the 95% CI of the difference excludes 0)"


def test_overlapping_runs_are_not_distinguishable_with_few_seeds():
    result = compare(scores("a", 10, 30, 20, 25), scores("b", 15, 28, 22, 19))
    assert result.mean_difference.spans_zero()
    assert result.verdict.startswith("not distinguishable with 4 and 4 seeds")
    assert 0.0 <= result.improvement_probability.low < 0.5 < result.improvement_probability.high


def test_intervals_are_fixed_by_the_seed():
    a, b = scores("a", 1, 5, 3), scores("b", 2, 6, 4, 8)
    assert compare(a, b) == compare(a, b)
    assert compare(a, b, seed=1) != compare(a, b)
