"""`rlpipe suite plan`: the stale train stages, why, and what their seeds last cost, trained nothing."""

from __future__ import annotations

import json
import shutil

import pytest

from rlpipe.suite_plan import plan_suite
from tests.suite_project import make_project, run


def _core_s(project, key: str, seed: int) -> float:
    result = json.loads((project / "runs" / key / f"seed-{seed}" / "result.json").read_text())
    return result["wall_s"] * result["torch_threads"]


def _wall_s(project, key: str, seed: int) -> float:
    return json.loads((project / "runs" / key / f"seed-{seed}" / "result.json").read_text())[
        "wall_s"
    ]


def test_plan_lists_stale_stages_with_the_cost_their_seeds_last_took(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")

    fresh = run(project, "rlpipe", "suite", "plan")
    assert "4 stale train stages" in fresh.stdout
    for stage in ("train-crossq-cartpole-part-1", "train-crossq-cartpole ",
                  "train-sac-pendulum-seeds-0", "train-sac-pendulum-seeds-1"):  # fmt: skip
        assert stage in fresh.stdout
    assert fresh.stdout.count("no earlier run") == 4
    assert "no stage has an earlier run to take its cost from" in fresh.stdout
    assert "not committed yet" not in fresh.stdout  # the project is committed
    assert not (project / "runs").exists() and not (project / "dvc.lock").exists()
    monkeypatch.chdir(project)
    assert [stage.changes for stage in plan_suite(project)] == [("never ran",)] * 4

    assert run(project, "rlpipe", "suite", "plan", "--check", check=False).returncode == 1
    run(project, "rlpipe", "suite", "run", "--no-repro")
    after_run = run(project, "rlpipe", "suite", "plan", "--check").stdout
    assert "no stale train stages" in after_run
    assert "not committed yet" not in after_run  # runs, dvc.lock: outputs, not inputs

    # a seed group whose seeds never trained (here: seed 1's folder moved away) is costed at
    # the pace of as many of its run's other seeds
    seed_1 = project / "runs" / "sac-pendulum" / "seed-1"
    shutil.move(seed_1, tmp_path / "seed-1")
    (stand_in,) = plan_suite(project)
    assert stand_in.name == "train-sac-pendulum-seeds-1" and stand_in.last is not None
    assert stand_in.last.from_seeds == (0,)
    assert stand_in.last.cpu_core_s == pytest.approx(_core_s(project, "sac-pendulum", 0))
    shown = run(project, "rlpipe", "suite", "plan").stdout
    assert "none; at seeds 0's pace:" in shown
    assert (
        "1 of 1 as they last took:" in shown
        and "(1 at the pace of their run's other seeds)" in (shown)
    )
    shutil.move(tmp_path / "seed-1", seed_1)

    suite = project / "params" / "suite.yaml"
    text = suite.read_text()
    longer = "sac-pendulum: {family: sac, spec: pendulum, frames: 600, seed_groups: 2}"
    suite.write_text(text.replace(longer.replace("600", "300"), longer))
    stale_yaml = run(project, "rlpipe", "suite", "plan", check=False)
    assert stale_yaml.returncode == 2
    assert "dvc.yaml is out of date with params/suite.yaml: run rlpipe suite stages" in (
        stale_yaml.stderr
    )
    run(project, "rlpipe", "suite", "stages")
    planned = plan_suite(project)
    assert [stage.name for stage in planned] == [
        "train-sac-pendulum-seeds-0",
        "train-sac-pendulum-seeds-1",
    ]
    for seed, stage in enumerate(planned):
        assert stage.seeds == (seed,) and stage.frames == 600
        assert "command" in stage.changes
        assert stage.last is not None and stage.last.gpu_s == 0
        # twice the frames the seed trained: twice the core-seconds its result.json records
        assert stage.last.cpu_core_s == pytest.approx(2 * _core_s(project, "sac-pendulum", seed))
        # one seed: as long as it took, whatever threads it had
        assert stage.cpu_wall_s(cpus=2) == pytest.approx(2 * _wall_s(project, "sac-pendulum", seed))

    shown = run(project, "rlpipe", "suite", "plan").stdout
    assert "2 stale train stages" in shown and "2 of 2 as they last took:" in shown
    assert "CPU core-min" in shown and "next: rlpipe suite run" in shown
    assert (  # the suite file is an input of the report, and git has the 300-frame one
        "not committed yet: params/suite.yaml; `rlpipe suite run --git-commit` starts once "
        "they are" in " ".join(shown.split())
    )


def test_plan_refuses_a_suite_typo_with_where_and_what(tmp_path):
    project = make_project(tmp_path / "project")
    suite = project / "params" / "suite.yaml"
    suite.write_text(suite.read_text().replace("seed_groups: 2", "seed_grups: 2"))
    failed = run(project, "rlpipe", "suite", "plan", check=False)
    assert failed.returncode == 2
    assert (
        "params/suite.yaml: runs.sac-pendulum.seed_grups: unknown key; did you mean 'seed_groups'?"
        in failed.stderr
    )
    assert "Traceback" not in failed.stderr
