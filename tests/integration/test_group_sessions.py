"""A row with `eval_per_group` trains its seed groups in different sessions, each on a fresh
clone with an empty DVC cache (no weights of the other groups), and still ends evaluated,
reported and audit-clean."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_suite_e2e import audit_checks
from tests.suite_project import init_project, run

SUITE = """\
hub_repo: rlpipe/benchmarks-smoke
seeds: 2
device: cpu
envs:
  pendulum: {id: Pendulum-v1, category: classic, target: -200, budget: 1000}
runs:
  sac-pendulum: {family: sac, spec: pendulum, frames: 300, seed_groups: 2, eval_per_group: true}
"""


def session(origin: Path, where: Path) -> Path:
    """A fresh clone of `origin`: git data only, an empty DVC cache."""
    run(origin.parent, "git", "clone", "-q", str(origin), str(where))
    run(where, "git", "config", "user.email", "ci@example.invalid")
    run(where, "git", "config", "user.name", "ci")
    return where


def commit_and_push(clone: Path, message: str) -> None:
    run(clone, "git", "add", "-A")
    run(clone, "git", "commit", "-qm", message)
    run(clone, "git", "push", "-q", "origin", "HEAD:main")


def test_each_group_trains_in_its_own_session_and_the_row_ends_evaluated(tmp_path):
    origin = init_project(tmp_path / "origin", SUITE)
    run(origin, "git", "checkout", "-qb", "main")
    run(origin, "git", "add", "-A")
    run(origin, "git", "commit", "-qm", "suite")
    run(origin, "git", "config", "receive.denyCurrentBranch", "updateInstead")

    first = session(origin, tmp_path / "first")
    run(first, "dvc", "repro", "eval-sac-pendulum-seeds-0")
    group = json.loads((first / "evals/sac-pendulum/seeds-0.json").read_text())
    assert [entry["seed"] for entry in group["per_seed"]] == [0]
    commit_and_push(first, "group 0")

    second = session(origin, tmp_path / "second")
    assert not list(second.glob("artifacts/**/model.pt"))  # group 0's weights stayed behind
    log = run(second, "dvc", "repro", "--allow-missing").stdout
    assert "Running stage 'train-sac-pendulum-seeds-0'" not in log
    assert "Running stage 'eval-sac-pendulum-seeds-0'" not in log
    assert "Running stage 'train-sac-pendulum-seeds-1'" in log
    merged = json.loads((second / "evals/sac-pendulum.json").read_text())
    assert [entry["seed"] for entry in merged["per_seed"]] == [0, 1]
    assert merged["per_seed"][0] == group["per_seed"][0]
    commit_and_push(second, "group 1, summary, eval, report")

    third = session(origin, tmp_path / "third")
    planned = run(third, "dvc", "repro", "--allow-missing", "--dry").stdout
    assert "Running stage" not in planned, planned
    assert audit_checks(third) == []
