"""`rlpipe suite run` without Ray: stale train stages run here, one at a time, and are committed."""

from __future__ import annotations

from rlpipe.suite_sources import SourceSnapshot
from tests.suite_project import BROKEN_SAC_PENDULUM, INVALID_SAC_PENDULUM, make_project, run


def test_local_suite_run_commits_finished_stages_and_names_the_failed_one(tmp_path):
    project = make_project(tmp_path / "project")
    sac = project / "pipelines" / "sac.yaml"
    good = sac.read_text()
    assert BROKEN_SAC_PENDULUM[0] in good
    sac.write_text(good.replace(*BROKEN_SAC_PENDULUM))

    failed = run(project, "rlpipe", "suite", "run", "--no-repro", check=False)
    assert failed.returncode == 2
    assert "train-sac-pendulum-seeds-0" in failed.stderr
    assert "unknown gymnasium env 'Pendulum-v0'" in failed.stderr
    assert "committed: train-crossq-cartpole" in failed.stderr
    status = run(project, "dvc", "status", "train-crossq-cartpole").stdout
    assert "Data and pipelines are up to date." in status

    sac.write_text(good)
    result = run(project, "rlpipe", "suite", "run", "--no-repro")
    groups = "train-sac-pendulum-seeds-0, train-sac-pendulum-seeds-1"
    assert f"2 stale train stages: {groups}" in result.stdout
    stale = run(project, "dvc", "status").stdout
    assert "train-" not in stale and "eval-sac-pendulum" in stale  # eval left to dvc repro
    assert "summarize-sac-pendulum" in stale


def test_a_spec_typo_stops_the_suite_run_before_any_stage_trains(tmp_path):
    project = make_project(tmp_path / "project")
    sac = project / "pipelines" / "sac.yaml"
    sac.write_text(sac.read_text().replace(*INVALID_SAC_PENDULUM))

    failed = run(project, "rlpipe", "suite", "run", "--no-repro", check=False)
    assert failed.returncode == 2
    assert "sac.yaml, spec 'pendulum', key algorithm.learning_startz: unknown key" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (project / "dvc.lock").exists() and not (project / "runs").exists()


def test_a_suite_edited_after_its_stages_were_written_stops_the_suite_run(tmp_path):
    project = make_project(tmp_path / "project")
    suite = project / "params" / "suite.yaml"
    entry = "sac-pendulum: {family: sac, spec: pendulum, frames: 300, seed_groups: 2}"
    assert entry in suite.read_text()
    suite.write_text(suite.read_text().replace(entry, entry.replace("300", "600")))

    failed = run(project, "rlpipe", "suite", "run", "--no-repro", check=False)
    assert failed.returncode == 2
    assert "dvc.yaml is out of date with params/suite.yaml: run rlpipe suite stages" in (
        failed.stderr
    )
    assert not (project / "dvc.lock").exists() and not (project / "runs").exists()


def test_a_stage_that_trained_but_could_not_be_committed_is_named_and_the_run_goes_on(
    tmp_path, monkeypatch
):
    import rlpipe.suite_run
    from rlpipe.errors import RlpipeError
    from rlpipe.scale import CommandResult

    def lock_held(root, *args):
        raise RlpipeError("dvc commit --force train-a failed: lock is held by PID 7")

    monkeypatch.setattr(rlpipe.suite_run, "_dvc", lock_held)
    trained: list[str] = []
    failures: list[str] = []
    shown: list[str] = []
    recorder = rlpipe.suite_run._Recorder(tmp_path, {}, SourceSnapshot(tmp_path, ()), False)
    rlpipe.suite_run._finish("train-a", CommandResult(0, "", "node-1"), trained, failures,
                             shown.append, recorder)  # fmt: skip
    assert trained == [] and shown == ["train-a: trained on node-1, not committed"]
    assert failures == [
        "train-a on node-1: trained, but not committed to dvc.lock (dvc commit --force train-a "
        "failed: lock is held by PID 7); its outputs are in place: run `dvc commit --force "
        "train-a`"
    ]


def test_only_one_runs_stages_each_in_a_git_commit_of_its_own(tmp_path):
    project = make_project(tmp_path / "project")
    typo = run(project, "rlpipe", "suite", "run", "--only", "crossq-cartpol", check=False)
    assert typo.returncode == 2 and "--only crossq-cartpol: not a run of" in typo.stderr

    result = run(project, "rlpipe", "suite", "run", "--only", "crossq-cartpole", "--git-commit")
    assert "2 stale train stages: train-crossq-cartpole-part-1, train-crossq-cartpole" in (
        result.stdout
    )
    # the repro is the run's own downstream stages, then plot and report: not sac-pendulum's,
    # whose folder plot and report need (so they wait for it)
    for stage in ("eval-crossq-cartpole", "replay-crossq-cartpole"):
        assert f"dvc repro --allow-missing --single-item {stage}" in result.stdout
    for stage in ("plot", "report"):
        assert f"{stage}: skipped: needs runs/sac-pendulum" in " ".join(result.stdout.split())
    log = run(project, "git", "log", "--format=%s").stdout.splitlines()
    assert [line.split(" (")[0] for line in log[:4]] == [
        "dvc repro --allow-missing after rlpipe suite run: eval, plot, report",
        "Train stage train-crossq-cartpole",
        "Train stage train-crossq-cartpole-part-1",
        "smoke suite",
    ]
    assert log[1].startswith("Train stage train-crossq-cartpole (rlpipe suite run on ")
    repro = run(project, "git", "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert {"evals/crossq-cartpole.json", "reports/replays/crossq-cartpole.gif"} <= set(repro)
    committed = run(project, "git", "show", "--name-only", "--format=", "HEAD~1").stdout.split()
    assert "dvc.lock" in committed and "runs/crossq-cartpole/summary.json" in committed
    assert "artifacts/.gitignore" in committed and not any(".pt" in p for p in committed)
    untracked = run(project, "git", "status", "--porcelain", "--", "runs", "evals", "reports",
                    "dvc.lock").stdout  # fmt: skip
    assert untracked == ""  # the run, its eval and replay are wholly in git
    assert not (project / "runs" / "sac-pendulum").exists()  # not asked for
    status = run(project, "dvc", "status", "train-crossq-cartpole").stdout
    assert "Data and pipelines are up to date." in status


def test_git_commit_refuses_to_start_while_what_the_stages_come_from_is_not_committed(tmp_path):
    project = make_project(tmp_path / "project")
    notes = project / "rlpipe" / "report" / "notes.py"
    notes.write_text(notes.read_text() + "# an edit in progress\n")
    sac = project / "pipelines" / "sac.yaml"
    sac.write_text(sac.read_text().replace(*BROKEN_SAC_PENDULUM))  # not crossq-cartpole's spec
    refused = run(project, "rlpipe", "suite", "run", "--only", "crossq-cartpole", "--git-commit",
                  check=False)  # fmt: skip
    message = " ".join(refused.stderr.split())
    assert refused.returncode == 2
    assert "these differ from git's HEAD: rlpipe/report/notes.py. Commit or stash them" in message
    assert not (project / "runs").exists()
    assert run(project, "git", "log", "--format=%s").stdout.splitlines() == ["smoke suite"]


def test_only_one_seed_group_trains_it_and_leaves_what_needs_the_other_group(tmp_path):
    project = make_project(tmp_path / "project")
    for value, message in [
        ("sac-pendulum/seeds-2", "sac-pendulum has no seed group 'seeds-2' (its groups: "
                                 "seeds-0, seeds-1)"),
        ("crossq-cartpole/seeds-0", "crossq-cartpole trains all its seeds in one stage"),
        ("sac-pendulun/seeds-0", "--only sac-pendulun: not a run of"),
        ("sac-pendulum/", "sac-pendulum has no seed group '' (its groups: seeds-0, seeds-1)"),
    ]:  # fmt: skip
        refused = run(project, "rlpipe", "suite", "run", "--only", value, check=False)
        assert refused.returncode == 2 and message in " ".join(refused.stderr.split()), value
    assert not (project / "runs").exists()

    result = run(project, "rlpipe", "suite", "run", "--only", "sac-pendulum/seeds-0")
    shown = " ".join(result.stdout.split())
    assert "1 stale train stages: train-sac-pendulum-seeds-0" in shown
    assert "summarize-sac-pendulum: skipped: needs runs/sac-pendulum/seed-1" in shown
    skipped = [line for line in result.stdout.splitlines() if line.startswith("summarize-")]
    assert len(skipped) == 1 and skipped[0].endswith("not there yet")  # one line, unwrapped
    assert (project / "runs" / "sac-pendulum" / "seed-0" / "result.json").is_file()
    assert not (project / "runs" / "sac-pendulum" / "seed-1").exists()
    stale = run(project, "dvc", "status", "train-sac-pendulum-seeds-0").stdout
    assert "Data and pipelines are up to date." in stale


def test_the_repro_after_a_seed_group_waits_for_the_groups_still_stale(tmp_path, monkeypatch):
    import rlpipe.suite_run

    repro: list[str] = []
    monkeypatch.setattr(rlpipe.suite_run, "_dvc", lambda root, *args: repro.append(args[-1]))
    for folder in ("runs/a/seed-0", "runs/a/seed-1", "reports/plots"):  # seed-1: an old run
        (tmp_path / folder).mkdir(parents=True)
    every = {
        "train-a-seeds-0": {"cmd": "rlpipe train a", "outs": ["runs/a/seed-0"]},
        "train-a-seeds-1": {"cmd": "rlpipe train a", "outs": ["runs/a/seed-1"]},
        "summarize-a": {"cmd": "rlpipe summarize runs/a", "deps": ["runs/a/seed-0",
                        "runs/a/seed-1"], "outs": [{"runs/a/summary.json": {"cache": False}}]},
        "eval-a-seeds-0": {"cmd": "rlpipe eval runs/a --only-seeds 0",
                           "deps": ["runs/a/seed-0"], "outs": ["evals/a/seeds-0.json"]},
        "plot": {"cmd": "rlpipe plot", "deps": ["runs/a"], "outs": ["reports/plots"]},
        "report": {"cmd": "rlpipe report", "deps": ["runs/a", "reports/plots"]},
    }  # fmt: skip
    shown: list[str] = []
    rlpipe.suite_run._repro_downstream(tmp_path, every, ("a",), ["train-a-seeds-1"],
                                       shown.append)  # fmt: skip
    assert repro == ["eval-a-seeds-0"]
    assert shown == [
        "summarize-a: skipped: waits for train-a-seeds-1",
        "dvc repro --allow-missing --single-item eval-a-seeds-0",
        "plot: skipped: waits for summarize-a, train-a-seeds-1",
        "report: skipped: waits for plot, summarize-a, train-a-seeds-1",
    ]


def test_on_a_fresh_clone_a_groups_eval_in_git_still_serves_the_merge(tmp_path, monkeypatch):
    """Session 2 trains seeds-1 on a clone without seed-0's weights (not pulled): seed-0's eval
    cannot re-run, but its committed output is current, so the merged eval runs."""
    import rlpipe.suite_run

    repro: list[str] = []
    monkeypatch.setattr(rlpipe.suite_run, "_dvc", lambda root, *args: repro.append(args[-1]))
    for folder in ("runs/a/seed-0", "runs/a/seed-1", "artifacts/a/seed-1", "evals/a"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "evals/a/seeds-0.json").write_text("{}")
    every = {
        "eval-a-seeds-0": {"cmd": "rlpipe eval runs/a --only-seeds 0", "deps": [
            "runs/a/seed-0", "artifacts/a/seed-0"], "outs": ["evals/a/seeds-0.json"]},
        "eval-a-seeds-1": {"cmd": "rlpipe eval runs/a --only-seeds 1", "deps": [
            "runs/a/seed-1", "artifacts/a/seed-1"], "outs": ["evals/a/seeds-1.json"]},
        "eval-a": {"cmd": "rlpipe eval runs/a --merge x", "deps": [
            "evals/a/seeds-0.json", "evals/a/seeds-1.json"], "outs": ["evals/a.json"]},
    }  # fmt: skip
    (tmp_path / "evals/a/seeds-1.json").write_text("{}")  # what eval-a-seeds-1 writes
    shown: list[str] = []
    rlpipe.suite_run._repro_downstream(tmp_path, every, ("a",), [], shown.append)
    assert shown[0] == "eval-a-seeds-0: skipped: needs artifacts/a/seed-0, not there yet"
    assert repro == ["eval-a-seeds-1", "eval-a"]


def test_the_suite_run_shows_each_running_stages_frames(tmp_path, monkeypatch):
    import rlpipe.suite_run
    from rlpipe.scale import CommandResult, Resources
    from rlpipe.suite_progress import ProgressReporter

    monkeypatch.setattr(rlpipe.suite_run, "_dvc", lambda root, *args: None)
    monkeypatch.setattr(rlpipe.suite_run, "POLL_S", 0.0)
    metrics = tmp_path / "runs" / "a" / "seed-0" / "metrics.csv"

    class Training:  # logs a row, then ends at its second poll
        polls = 0

        def poll(self):
            self.polls += 1
            if self.polls == 1:
                metrics.parent.mkdir(parents=True)
                metrics.write_text("frame,wall_s\n100,1.0\n")
            return CommandResult(0, "", "node-1") if self.polls == 2 else None

        def stop(self):
            raise AssertionError("nothing stops it")

    class Runner:
        def start(self, command, cwd, resources):
            return Training()

    stage = rlpipe.suite_run.StaleStage(
        "train-a", "rlpipe train sac pendulum -s env.max_frame=300 --out runs/a", run="a"
    )
    shown: list[str] = []
    progress = ProgressReporter(tmp_path, shown.append, 0.0)
    recorder = rlpipe.suite_run._Recorder(tmp_path, {}, SourceSnapshot(tmp_path, ()), False)
    rlpipe.suite_run._run_stages(tmp_path, [stage], Runner(), Resources(), 1, [], [],
                                 shown.append, recorder, progress)  # fmt: skip
    assert shown == [
        "train-a: started",
        "train-a: 33% (100 of 300 frames, 1 seed), 0 min so far",
        "train-a: trained on node-1, committed to dvc.lock",
    ]


def test_a_time_limit_that_has_passed_trains_nothing_and_the_repro_leaves_what_needs_it(
    tmp_path,
):
    project = make_project(tmp_path / "project")
    typo = run(project, "rlpipe", "suite", "run", "--time-limit", "90", check=False)
    assert typo.returncode == 2
    assert "--time-limit '90': not a duration; write it as 2h30m, 90m, 1.5h or 45s" in typo.stderr
    assert not (project / "runs").exists()

    # DVC's checks before the first stage take longer than 0.1 s: every stage is left, a
    # chain's later part with its first, and the repro after trains nothing
    result = run(project, "rlpipe", "suite", "run", "--time-limit", "0.1s")
    shown = " ".join(result.stdout.split())
    passed = "left for a later run: the time limit has passed"
    for stage in ("train-crossq-cartpole-part-1", "train-sac-pendulum-seeds-0"):
        assert f"{stage}: {passed}" in shown
    left = ("train-crossq-cartpole-part-1, train-crossq-cartpole, train-sac-pendulum-seeds-0, "
            "train-sac-pendulum-seeds-1")  # fmt: skip
    assert f"left for a later run (--time-limit): {left}" in shown
    assert "eval-crossq-cartpole: skipped: needs runs/crossq-cartpole" in shown
    assert "trained 0 stale train stages, left 4 for a later run, dvc repro done" in shown
    assert not (project / "runs").exists()
    stale = run(project, "dvc", "status", "train-crossq-cartpole-part-1").stdout
    assert "Data and pipelines are up to date." not in stale
