"""The OpenMP wait policy follows how busy the cores are when rlpipe starts."""

from __future__ import annotations

import os

import pytest

from rlpipe.commands import wait_policy


@pytest.mark.parametrize(
    "others,cores,expected",
    [(0, 2, None), (1, 2, "PASSIVE"), (3, 2, "PASSIVE"), (3, 8, None), (4, 8, "PASSIVE"),
     (None, 2, None)],
)  # fmt: skip
def test_busy_cores_make_openmp_threads_wait_passively(monkeypatch, others, cores, expected):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert wait_policy.choose_omp_wait_policy(lambda: others) == expected
    assert os.environ.get("OMP_WAIT_POLICY") == expected


def test_a_policy_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert wait_policy.choose_omp_wait_policy(lambda: 9.0) == "ACTIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_runnable_others_reads_this_machine():
    others = wait_policy.runnable_others(samples=1)
    assert others is None or others >= 0
