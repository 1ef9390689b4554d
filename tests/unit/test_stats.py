"""Score statistics: IQM, bootstrap CI and moving average on known numbers."""

import numpy as np
import pytest

from rlpipe.stats import bootstrap_ci, iqm, moving_average


def test_iqm_of_one_to_eight_is_mean_of_middle_four():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(np.mean([3, 4, 5, 6]))


def test_iqm_ignores_outliers_in_the_outer_quarters():
    assert iqm([-1000.0, 1.0, 2.0, 3.0, 1000.0]) == pytest.approx(2.0)


@pytest.mark.parametrize("values", [[7.0], [1.0, 100.0], [1.0, 2.0, 30.0]])
def test_iqm_of_fewer_than_four_values_is_plain_mean(values):
    assert iqm(values) == pytest.approx(np.mean(values))


def test_iqm_of_four_values_is_mean_of_middle_two():
    assert iqm([0.0, 10.0, 20.0, 1000.0]) == pytest.approx(15.0)


@pytest.mark.parametrize("values", [[], [1.0, float("nan")], [[1.0, 2.0]]])
def test_iqm_rejects_empty_non_finite_or_nested_input(values):
    with pytest.raises(ValueError):
        iqm(values)


def test_bootstrap_ci_is_deterministic_for_a_seed():
    values = np.random.default_rng(7).normal(100.0, 20.0, size=20)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_bootstrap_ci_contains_mean_and_stays_within_data_range():
    values = [100.0, 140.0, 90.0, 200.0, 120.0]
    lo, hi = bootstrap_ci(values)
    assert min(values) <= lo < np.mean(values) < hi <= max(values)


def test_bootstrap_ci_narrows_with_lower_confidence():
    values = [1.0, 5.0, 2.0, 8.0, 3.0, 9.0]
    lo95, hi95 = bootstrap_ci(values, confidence=0.95)
    lo50, hi50 = bootstrap_ci(values, confidence=0.5)
    assert lo95 <= lo50 and hi50 <= hi95


def test_bootstrap_ci_of_single_value_is_that_value():
    assert bootstrap_ci([3.25]) == (3.25, 3.25)
    assert bootstrap_ci([0.1, 0.1, 0.1]) == (0.1, 0.1)


@pytest.mark.parametrize("kwargs", [{"confidence": 1.0}, {"confidence": 0.0}, {"n_resamples": 0}])
def test_bootstrap_ci_rejects_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], **kwargs)


def test_moving_average_is_trailing_mean_with_short_start():
    assert moving_average([1, 2, 3, 4, 5], window=3) == pytest.approx([1.0, 1.5, 2.0, 3.0, 4.0])


def test_moving_average_with_window_longer_than_series_is_running_mean():
    assert moving_average([2.0, 4.0], window=10) == pytest.approx([2.0, 3.0])


def test_moving_average_with_window_one_is_identity_and_empty_stays_empty():
    assert moving_average([3.0, -1.0], window=1) == [3.0, -1.0]
    assert moving_average([], window=5) == []


def test_moving_average_rejects_window_below_one():
    with pytest.raises(ValueError):
        moving_average([1.0], window=0)
