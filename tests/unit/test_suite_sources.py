"""What suite stages are made from, and whether it changed since a snapshot or since HEAD."""

from __future__ import annotations

import subprocess

import pytest

import rlpipe.suite_run
from rlpipe.scale import CommandResult
from rlpipe.suite_sources import Source, SourceSnapshot, stage_sources, uncommitted

PIPELINE = """\
vars: {frames: 1000}
specs:
  a: {env: {id: CartPole-v1}}  # spec a
  b: {env: {id: Pendulum-v1}}
"""
STAGES = {
    "code-train": {
        "cmd": "rlpipe suite fingerprint --out fingerprints/train.json lib/algo.py",
        "deps": ["lib/algo.py"],
        "outs": [{"fingerprints/train.json": {"cache": False}}],
    },
    "train-a": {
        "cmd": "rlpipe train x a --out runs/a",
        "deps": ["fingerprints/train.json"],
        "params": [{"pipelines/x.yaml": ["vars", "specs.a"]}],
        "outs": [{"runs/a": {"cache": False}}],
    },
    "report": {"cmd": "rlpipe report", "deps": ["runs/a/summary.json", "lib/report.py"]},
}


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "algo.py").write_text("STEP = 1\n")
    (tmp_path / "lib" / "report.py").write_text("TITLE = 'x'\n")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "x.yaml").write_text(PIPELINE)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "commit", "-qm", "x")
    return tmp_path


def test_a_stage_is_made_from_its_params_and_through_a_code_stage_from_its_code():
    spec_a = Source("pipelines/x.yaml", ("vars", "specs.a"))
    assert stage_sources(STAGES, ["train-a"]) == {spec_a}
    code = lambda name: name.startswith("code-")  # noqa: E731
    assert stage_sources(STAGES, ["train-a"], through=code) == {spec_a, Source("lib/algo.py")}
    # the report reads the run it is given, not the stage that made it
    assert stage_sources(STAGES, ["report"], through=code) == {Source("lib/report.py")}
    assert str(spec_a) == "pipelines/x.yaml (vars, specs.a)"


def test_only_an_edit_to_a_stages_own_keys_changes_its_params(project):
    spec_a = Source("pipelines/x.yaml", ("vars", "specs.a"))
    snapshot = SourceSnapshot(project, [spec_a, Source("lib/algo.py")])
    pipeline = project / "pipelines" / "x.yaml"
    pipeline.write_text(PIPELINE.replace("Pendulum-v1", "Acrobot-v1").replace("# spec a", ""))
    assert snapshot.changed([spec_a, Source("lib/algo.py")]) == []  # spec b and a comment
    pipeline.write_text(PIPELINE.replace("CartPole-v1", "CartPole-v0"))
    assert snapshot.changed([spec_a]) == ["pipelines/x.yaml (vars, specs.a)"]
    pipeline.write_text("specs: [\n")  # half-saved: not the snapshot's either
    assert snapshot.changed([spec_a]) == ["pipelines/x.yaml (vars, specs.a)"]
    (project / "lib" / "algo.py").unlink()
    assert snapshot.changed([Source("lib/algo.py")]) == ["lib/algo.py"]
    assert snapshot.changed([Source("lib/new.py")]) == ["lib/new.py"]  # not in the snapshot


def test_uncommitted_names_edited_untracked_and_other_key_edits_only_where_they_count(project):
    sources = [
        Source("pipelines/x.yaml", ("specs.a",)),
        Source("lib/algo.py"),
        Source("lib/new.py"),
    ]
    assert uncommitted(project, sources) == []
    (project / "pipelines" / "x.yaml").write_text(PIPELINE.replace("Pendulum-v1", "Acrobot-v1"))
    assert uncommitted(project, sources) == []  # spec b: not a source here
    (project / "lib" / "algo.py").write_text("STEP = 2\n")
    (project / "lib" / "new.py").write_text("")
    assert uncommitted(project, sources) == ["lib/algo.py", "lib/new.py"]
    git(project, "add", "lib/algo.py")  # staged is not committed either
    (project / "pipelines" / "x.yaml").write_text(PIPELINE.replace("CartPole-v1", "CartPole-v0"))
    assert uncommitted(project, sources) == [
        "lib/algo.py",
        "lib/new.py",
        "pipelines/x.yaml (specs.a)",
    ]
    assert uncommitted(project, [Source("pipelines/y.yaml", ("specs.a",))]) == [
        "pipelines/y.yaml (specs.a)"  # not in HEAD
    ]


def test_a_stage_whose_spec_changed_while_it_trained_is_not_recorded(project, monkeypatch):
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(rlpipe.suite_run, "_dvc", lambda root, *args: calls.append(args))
    sources = stage_sources(STAGES, ["train-a"])
    recorder = rlpipe.suite_run._Recorder(project, STAGES, SourceSnapshot(project, sources), False)
    pipeline = project / "pipelines" / "x.yaml"
    pipeline.write_text(PIPELINE.replace("frames: 1000", "frames: 2000"))
    trained: list[str] = []
    failures: list[str] = []
    shown: list[str] = []
    rlpipe.suite_run._finish("train-a", CommandResult(0, "", ""), trained, failures,
                             shown.append, recorder)  # fmt: skip
    assert calls == [] and trained == []
    assert shown == ["train-a: trained, not recorded (its inputs changed)"]
    assert failures == [
        "train-a: trained, but not recorded: pipelines/x.yaml (vars, specs.a) changed while it "
        "trained, and dvc.lock would say the run came from the new version. Its outputs are in "
        "place: revert the change and run `dvc commit --force train-a`, or train it again"
    ]
    pipeline.write_text(PIPELINE.replace("Pendulum-v1", "Acrobot-v1"))  # another spec: fine
    rlpipe.suite_run._finish("train-a", CommandResult(0, "", ""), trained, failures,
                             shown.append, recorder)  # fmt: skip
    assert calls == [("commit", "--force", "train-a")] and trained == ["train-a"]
