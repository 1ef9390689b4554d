"""What DVC says of each stage, read without running anything: changed, or never run at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.stages import locked_stages, stage_status

DVC_YAML = """\
stages:
  first:
    cmd: cp in.txt first.txt
    deps: [in.txt]
    outs: [{first.txt: {cache: false}}]
  second:
    cmd: cp first.txt second.txt
    deps: [first.txt]
    outs: [{second.txt: {cache: false}}]
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A git + DVC project of two chained stages where only the first has run, as the working
    directory (DVC resolves stage names there, as the commands that call stage_status do)."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "in.txt").write_text("a\n")
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    subprocess.run([*dvc, "repro", "-q", "first"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_stage_without_a_dvc_lock_entry_never_ran_and_says_nothing_else(project):
    assert locked_stages(project) == {"first"}
    statuses = stage_status(project, ["first", "second"])
    assert [(s.stage, s.never_ran, s.changed_code, s.changed_outputs) for s in statuses] == [
        ("second", True, (), ())
    ]


def test_a_stage_that_ran_is_changed_by_its_dependency(project):
    (project / "in.txt").write_text("b\n")
    (status,) = stage_status(project, ["first"])
    assert status.stage == "first" and not status.never_ran
    assert status.changed_code == ("in.txt modified",)


def test_no_dvc_lock_means_no_stage_ran_and_a_broken_one_is_named(tmp_path):
    assert locked_stages(tmp_path) == set()
    (tmp_path / "dvc.lock").write_text("stages: [unclosed\n")
    with pytest.raises(RlpipeError, match=r"dvc\.lock is not valid YAML"):
        locked_stages(tmp_path)
