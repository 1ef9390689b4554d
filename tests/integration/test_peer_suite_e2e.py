"""A parity row end to end: a tiny suite with rlpipe's CrossQ and sb3-contrib's beside it, through
`rlpipe suite stages` and a real `dvc repro`, then the report and the audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_suite_e2e import audit_checks, restore
from tests.suite_project import init_project, run

pytest.importorskip("sb3_contrib")

SUITE = """\
hub_repo: rlpipe/benchmarks-parity
seeds: 1
device: cpu
envs:
  pendulum: {id: Pendulum-v1, category: classic, target: -200, budget: 1000}
runs:
  crossq-pendulum: {family: crossq, spec: pendulum, frames: 400}
  crossq-pendulum-sb3: {family: crossq, spec: pendulum, frames: 400, peer: sb3}
"""
PEER = "crossq-pendulum-sb3"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A git + DVC project whose suite is one rlpipe run and its sb3-contrib twin (400 frames,
    two Pendulum episodes, one seed), reproduced and committed."""
    root = init_project(tmp_path_factory.mktemp("parity") / "project", SUITE)
    run(root, "dvc", "repro")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "parity suite")
    return root


def test_the_parity_stage_makes_a_row_beside_rlpipes_and_the_audit_passes(project):
    from importlib.metadata import version

    rows = json.loads((project / "reports/benchmarks.json").read_text())["rows"]
    assert [row["run"] for row in rows] == ["crossq-pendulum", PEER]
    peer_row = rows[1]
    label = f"CrossQ (sb3-contrib {version('sb3-contrib')})"
    assert peer_row["peer"] == label.removeprefix("CrossQ (").removesuffix(")")
    assert peer_row["frames"] == 400 and peer_row["score"] is not None
    report = (project / "reports/BENCHMARKS.md").read_text()
    line = next(line for line in report.splitlines() if f"[runs/{PEER}]" in line)
    assert f"| {label} |" in line
    assert (project / f"evals/{PEER}.json").is_file()
    assert f"train-{PEER}:" in (project / "dvc.lock").read_text()
    parity = next(
        line for line in report.splitlines() if line.startswith("| Pendulum-v1 | CrossQ | runs/")
    )
    assert f"| runs/crossq-pendulum | runs/{PEER} ({peer_row['peer']}) |" in parity
    assert peer_row["parity"]["rlpipe_run"] == "crossq-pendulum"
    assert audit_checks(project) == []


def test_a_tampered_parity_comparison_is_a_finding(project):
    report = project / "reports/BENCHMARKS.md"
    text = report.read_text()
    line = next(
        line for line in text.splitlines() if line.startswith("| Pendulum-v1 | CrossQ | runs/")
    )
    cells = line.split(" | ")
    cells[6] = "0.42 [0.40, 0.44]"  # P(rlpipe > peer): with one seed each it is 0, 0.5 or 1
    try:
        report.write_text(text.replace(line, " | ".join(cells)))
        result = run(project, "rlpipe", "audit", "--json", check=False)
        findings = json.loads(result.stdout)["findings"]
        assert [(f["check"], f["row"]) for f in findings if f["row"] == "parity"] == [
            ("number-mismatch", "parity")
        ]
    finally:
        restore(project)


def test_rlpipes_algorithm_code_leaves_the_peer_stage_clean_the_twins_code_does_not(project):
    def stale_rows() -> set[str]:
        result = run(project, "rlpipe", "audit", "--json", check=False)
        findings = json.loads(result.stdout)["findings"]
        assert {f["check"] for f in findings} <= {"stale-stage"}
        return {f["row"] for f in findings}

    try:
        (project / "rlpipe/algos/crossq.py").open("a").write("\nALGORITHM_EDIT = 1\n")
        assert stale_rows() == {"crossq-pendulum"}
        restore(project)
        (project / "rlpipe/peers/sb3.py").open("a").write("\nTWIN_EDIT = 1\n")
        assert stale_rows() == {PEER}
    finally:
        restore(project)


def test_a_run_made_with_another_peer_version_is_a_stale_stage(project):
    lock = project / "dvc.lock"
    text = lock.read_text()
    installed = next(part for part in text.split() if part.startswith("sb3-contrib=="))
    try:
        lock.write_text(text.replace(installed, "sb3-contrib==0.0.1"))  # as if run with 0.0.1
        result = run(project, "rlpipe", "audit", "--json", check=False)
        findings = json.loads(result.stdout)["findings"]
        assert [(f["check"], f["row"]) for f in findings] == [("stale-stage", PEER)]
        assert "changed command" in findings[0]["message"]
    finally:
        restore(project)
    assert audit_checks(project) == []
