"""`rlpipe compare`'s statistics: stratified-bootstrap intervals and the probability of
improvement, on hand-checkable seed values; no interval or verdict from a single seed, and no
comparison across envs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlpipe.comparison import (
    RunScores,
    compare,
    improvement_probabilities,
    interquartile_means,
    read_env_id,
    read_scores,
    require_one_env,
)
from rlpipe.errors import RlpipeError
from tests.fixtures import make_run


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


@pytest.mark.parametrize(("a_seeds", "b_seeds"), [(1, 4), (4, 1), (1, 1)])
def test_a_run_of_one_seed_gets_no_intervals_and_no_verdict(a_seeds, b_seeds):
    a = scores("a", *[10.0 + i for i in range(a_seeds)])
    b = scores("b", *[50.0 + i for i in range(b_seeds)])
    result = compare(a, b)
    assert not result.has_intervals
    assert result.mean_difference.value == pytest.approx(b.mean - a.mean)
    assert result.verdict == (
        f"too few seeds for a CI or a verdict: {b_seeds} and {a_seeds} seeds, and a bootstrap "
        "CI needs at least 2 per run"
    )


def test_two_seeds_a_side_are_enough_for_intervals_and_a_verdict():
    result = compare(scores("a", 10, 11), scores("b", 20, 21))
    assert result.has_intervals
    assert result.verdict.startswith("b is higher than a")


def test_env_ids_are_read_from_each_runs_spec(tmp_path):
    pendulum = make_run(tmp_path, "sac-pendulum", "sac", "pendulum", "Pendulum-v1")
    assert read_env_id(pendulum) == "Pendulum-v1"


def test_runs_of_different_envs_are_refused_naming_both_env_ids(tmp_path):
    runs = [
        read_scores(make_run(tmp_path, key, "sac", spec, env_id), "score", key)
        for key, spec, env_id in [
            ("sac-pendulum", "pendulum", "Pendulum-v1"),
            ("crossq-pendulum", "pendulum", "Pendulum-v1"),
            ("sac-hopper", "hopper", "Hopper-v5"),
        ]
    ]
    require_one_env(runs[:2])
    with pytest.raises(RlpipeError) as error:
        require_one_env(runs)
    message = str(error.value)
    assert message.startswith("sac-pendulum trained on Pendulum-v1, but sac-hopper on Hopper-v5")
    assert "crossq-pendulum" not in message and "--any-env" in message


def test_a_spec_without_an_env_id_is_a_damaged_run_file(tmp_path):
    run = make_run(tmp_path, "sac-pendulum", "sac", "pendulum", "Pendulum-v1")
    saved = json.loads((run / "spec.json").read_text())
    del saved["spec"]["env"]
    (run / "spec.json").write_text(json.dumps(saved))
    with pytest.raises(RlpipeError, match=r"spec.json is damaged \(no spec.env.id\)"):
        read_env_id(run)
