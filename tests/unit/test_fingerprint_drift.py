"""The audit sees a change to what training code does before anyone re-runs its code stage."""

from __future__ import annotations

import shutil

import yaml

from rlpipe.fingerprint import write_fingerprint
from rlpipe.spec import load_suite
from rlpipe.stages import FINGERPRINT_CODE, fingerprint_drift, fingerprint_file, render_dvc_yaml
from tests.conftest import FIXTURE_PIPELINES, REPO
from tests.fixtures import make_suite_file


def project_with_fingerprints(root):
    """A copy of rlpipe's source under root with a two-run suite and its fingerprints written."""
    shutil.copytree(REPO / "rlpipe", root / "rlpipe", ignore=shutil.ignore_patterns("__pycache__"))
    suite_path = make_suite_file(root / "suite.yaml", runs=[("sac", "pendulum", 1000)])
    suite = load_suite(suite_path)
    stages = yaml.safe_load(render_dvc_yaml(suite, suite_path, FIXTURE_PIPELINES))["stages"]
    for name, stage in stages.items():
        if name.startswith("code-"):
            files = [dep for dep in stage["deps"] if dep != FINGERPRINT_CODE]
            write_fingerprint(files, root / fingerprint_file(name.removeprefix("code-")), root)
    return suite


def test_documenting_the_code_is_no_drift_and_changing_it_is(tmp_path):
    suite = project_with_fingerprints(tmp_path)
    assert fingerprint_drift(suite, tmp_path, FIXTURE_PIPELINES) == {}

    sac = tmp_path / "rlpipe/algos/sac.py"
    text = sac.read_text()
    sac.write_text("# a new comment\n" + text.replace('"""', '"""More words. ', 1))
    assert fingerprint_drift(suite, tmp_path, FIXTURE_PIPELINES) == {}

    body = text.splitlines()
    first_def = next(i for i, line in enumerate(body) if line.startswith(("def ", "class ")))
    body.insert(first_def, "UNUSED_BUT_REAL = 1\n")
    sac.write_text("\n".join(body) + "\n")
    drift = fingerprint_drift(suite, tmp_path, FIXTURE_PIPELINES)
    assert drift == {"train-sac": ["rlpipe/algos/sac.py"], "eval-sac": ["rlpipe/algos/sac.py"]}


def test_a_missing_or_foreign_fingerprint_counts_every_file_as_changed(tmp_path):
    suite = project_with_fingerprints(tmp_path)
    (tmp_path / fingerprint_file("train-sac")).unlink()
    (tmp_path / fingerprint_file("eval-sac")).write_text('{"format": "other", "files": {}}')
    drift = fingerprint_drift(suite, tmp_path, FIXTURE_PIPELINES)
    assert set(drift) == {"train-sac", "eval-sac"}
    assert (
        "rlpipe/algos/sac.py" in drift["train-sac"]
        and "rlpipe/loops/seedloop.py" in drift["train-sac"]
    )


def test_the_audit_names_each_run_whose_code_drifted(tmp_path, monkeypatch):
    from rlpipe.report import audit

    suite_path = make_suite_file(
        tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000), ("ppo", "cartpole", 1000)]
    )
    suite = load_suite(suite_path)
    monkeypatch.setattr(
        "rlpipe.stages.fingerprint_drift", lambda *_: {"eval-sac": ["rlpipe/algos/sac.py"]}
    )
    paths = audit.AuditPaths(suite=suite_path, pipelines=FIXTURE_PIPELINES, root=tmp_path)
    findings = audit._fingerprint_findings(suite, paths)
    assert [(f.check, f.row) for f in findings] == [("stale-stage", "sac-pendulum")]
    assert findings[0].message.startswith(
        "its eval code (eval-sac) no longer does what fingerprints/eval-sac.json recorded: "
        "rlpipe/algos/sac.py changed"
    )
