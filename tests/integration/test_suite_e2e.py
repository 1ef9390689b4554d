"""The suite end to end: real `dvc repro` on the smoke suite, audit, no-op rerun, tampering."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlpipe.rundir import read_rows
from tests.suite_project import init_project, run

FIRST_GROUP = "train-sac-pendulum-seeds-0"
GROUP_FILE = "runs/sac-pendulum/groups/seeds-0.json"


def audit_checks(project: Path) -> list[str]:
    result = run(project, "rlpipe", "audit", "--json", check=False)
    assert result.stdout, result.stderr
    document = json.loads(result.stdout)
    assert (result.returncode == 0) == document["ok"]
    return sorted({f["check"] for f in document["findings"]})


@dataclass(frozen=True)
class Project:
    """The suite project and what its two-step `dvc repro` printed."""

    root: Path
    first_stage_started: str  # started_at of the first seed group, from the first repro
    second_repro: str  # stdout of the repro that continued after the "interruption"


@pytest.fixture(scope="module")
def suite_project(tmp_path_factory) -> Project:
    """A git + DVC copy of the repo with the smoke suite. `dvc repro` is stopped after one seed
    group's train stage (as an interrupted session would be), then run again to the end."""
    root = init_project(tmp_path_factory.mktemp("suite") / "project")
    run(root, "dvc", "repro", FIRST_GROUP)
    started = json.loads((root / GROUP_FILE).read_text())["provenance"]["started_at"]
    second = run(root, "dvc", "repro").stdout
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "smoke suite")
    return Project(root, started, second)


@pytest.fixture
def project(suite_project) -> Path:
    return suite_project.root


def restore(project: Path) -> None:
    run(project, "git", "checkout", "-q", "--", ".")
    run(project, "git", "clean", "-qfd")


def test_repro_produces_report_plots_and_a_passing_audit(project):
    report = (project / "reports" / "BENCHMARKS.md").read_text()
    assert "crossq-cartpole" in report and "sac-pendulum" in report
    assert (project / "reports" / "plots" / "cartpole.png").read_bytes()[:4] == b"\x89PNG"
    assert (project / "evals" / "sac-pendulum.json").is_file()
    assert (project / "artifacts" / "sac-pendulum" / "seed-0" / "model.pt").is_file()
    lock = (project / "dvc.lock").read_text()
    assert "train-crossq-cartpole:" in lock and "summarize-sac-pendulum:" in lock
    for key in ("crossq-cartpole", "sac-pendulum"):  # the smoke suite sets replays: true
        assert f"replay-{key}:" in lock
        assert (project / "reports" / "replays" / f"{key}.gif").read_bytes()[:6] == b"GIF89a"
        assert f"![replay of {key}](replays/{key}.gif)" in report
    assert audit_checks(project) == []


def test_dvc_metrics_and_plots_show_each_suite_run(project):
    shown = json.loads(run(project, "dvc", "metrics", "show", "--json").stdout)
    metrics = next(iter(shown.values()))["data"]
    for key in ("crossq-cartpole", "sac-pendulum"):
        summary = json.loads((project / f"runs/{key}/summary.json").read_text())
        assert metrics[f"runs/{key}/summary.json"]["data"]["score"] == summary["score"]
    plots = json.loads(run(project, "dvc", "plots", "show", "--json").stdout)["data"]
    assert {"cartpole", "pendulum"} <= set(plots)
    # The pendulum plot holds sac-pendulum's two seeds; DVC trims their common path prefix.
    points = plots["pendulum"][0]["content"]["data"]["values"]
    assert {p["filename"] for p in points} == {"seed-0/metrics.csv", "seed-1/metrics.csv"}
    curve = [
        (float(p["frame"]), float(p["return_ma"]))
        for p in points
        if p["filename"] == "seed-0/metrics.csv"
    ]
    rows = read_rows(project / "runs/sac-pendulum/seed-0/metrics.csv")
    assert curve == [(r["frame"], r["return_ma"]) for r in rows if r["return_ma"] is not None]


def test_a_chained_run_continues_its_first_stage_and_loses_no_row(project):
    lock = (project / "dvc.lock").read_text()
    assert "train-crossq-cartpole-part-1:" in lock and "train-crossq-cartpole:" in lock
    provenance = json.loads((project / "runs/crossq-cartpole/provenance.json").read_text())
    paused = json.loads((project / "parts/crossq-cartpole/part-1/provenance.json").read_text())
    assert provenance["resumes"] == 1 and provenance["started_at"] == paused["started_at"]
    assert paused["paused_at"] == 200
    for seed in (0, 1):
        rows = (project / f"runs/crossq-cartpole/seed-{seed}/metrics.csv").read_text().splitlines()
        first = (project / f"parts/crossq-cartpole/part-1/seed-{seed}/metrics.csv").read_text()
        assert rows[: len(first.splitlines())] == first.splitlines()  # the first stage's rows
        assert [int(row.split(",")[0]) for row in rows[1:]][-1] == 300
    tracked = run(project, "git", "ls-files", "parts").stdout
    assert "state.pt" not in tracked and "metrics.csv" not in tracked  # the DVC cache keeps parts


def test_seed_groups_make_one_entry_of_all_seeds(project):
    summary = json.loads((project / "runs/sac-pendulum/summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    groups = json.loads((project / "runs/sac-pendulum/provenance.json").read_text())["groups"]
    assert [g["seeds"] for g in groups] == [[0], [1]]
    rows = json.loads((project / "reports/benchmarks.json").read_text())["rows"]
    assert [r["run"] for r in rows].count("sac-pendulum") == 1


def test_a_stopped_suite_continues_without_redoing_finished_stages(suite_project):
    assert f"Stage '{FIRST_GROUP}' didn't change, skipping" in suite_project.second_repro
    assert "Running stage 'train-sac-pendulum-seeds-1'" in suite_project.second_repro
    record = json.loads((suite_project.root / GROUP_FILE).read_text())
    assert record["provenance"]["started_at"] == suite_project.first_stage_started


def test_a_fresh_clone_plans_no_training_and_passes_the_audit(project, tmp_path):
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(project), str(clone))
    assert not list(clone.glob("artifacts/**/model.pt"))  # weights live in the DVC cache
    planned = run(clone, "dvc", "repro", "--allow-missing", "--dry").stdout
    assert "Running stage" not in planned, planned
    assert audit_checks(clone) == []


def test_suite_run_on_a_fresh_clone_trains_nothing_and_changes_nothing(project, tmp_path):
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(project), str(clone))
    result = run(clone, "rlpipe", "suite", "run")
    assert "0 stale train stages" in result.stdout, result.stdout
    assert not list(clone.glob("artifacts/**/model.pt"))  # nothing trained again
    assert run(clone, "git", "status", "--porcelain").stdout == ""


def stale_rows(project: Path) -> dict[str, str]:
    """Row -> message of the audit's stale-stage findings; any other finding fails the test."""
    result = run(project, "rlpipe", "audit", "--json", check=False)
    findings = json.loads(result.stdout)["findings"]
    assert {f["check"] for f in findings} <= {"stale-stage"}, findings
    return {f["row"]: f["message"] for f in findings}


def test_a_code_change_makes_stale_only_the_rows_whose_training_imports_it(project):
    try:
        (project / "rlpipe/report/benchmarks.py").open("a").write("\nREPORT_EDIT = 1\n")
        (project / "rlpipe/algos/dqn.py").open("a").write("\nOTHER_ALGORITHM_EDIT = 1\n")
        # Documentation and types only: the code fingerprint is unchanged, nothing re-trains.
        (project / "rlpipe/algos/crossq.py").open("a").write("\n# a comment, no behaviour\n")
        assert audit_checks(project) == []
        (project / "rlpipe/algos/crossq.py").open("a").write("\nCROSSQ_EDIT = 1\n")
        stale = stale_rows(project)
        assert set(stale) == {"crossq-cartpole"}
        assert "rlpipe/algos/crossq.py changed" in stale["crossq-cartpole"]
        (project / "rlpipe/algos/sac.py").open("a").write("\nSAC_EDIT = 1  # CrossQ's base\n")
        assert set(stale_rows(project)) == {"crossq-cartpole", "sac-pendulum"}
    finally:
        restore(project)


def test_second_repro_retrains_nothing(project):
    started = json.loads((project / "runs/sac-pendulum/provenance.json").read_text())["started_at"]
    result = run(project, "dvc", "repro")
    assert "Running stage 'train-" not in result.stdout
    assert "didn't change, skipping" in result.stdout
    again = json.loads((project / "runs/sac-pendulum/provenance.json").read_text())["started_at"]
    assert again == started


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _score_cell(project: Path) -> str:
    rows = json.loads((project / "reports" / "benchmarks.json").read_text())["rows"]
    return next(r for r in rows if r["run"] == "sac-pendulum")


def tamper_link(project):
    _edit(project / "reports/BENCHMARKS.md", "(../runs/sac-pendulum)", "(../runs/sac-pendulum-old)")


def tamper_plot(project):
    (project / "reports/plots/pendulum.png").write_text("not a picture")


def tamper_score(project):
    from rlpipe.report.benchmarks import format_cells

    cell = format_cells(_score_cell(project))["Score (95% CI)"]
    _edit(project / "reports/BENCHMARKS.md", cell, "-99.9" + cell[cell.index(" ") :])


def tamper_status(project):
    from rlpipe.report.benchmarks import format_cells

    row = _score_cell(project)
    cells = format_cells(row)
    line = next(
        line
        for line in (project / "reports/BENCHMARKS.md").read_text().splitlines()
        if "runs/sac-pendulum" in line
    )
    flipped = format_cells({**row, "status": "pass" if row["status"] != "pass" else "fail"})
    _edit(project / "reports/BENCHMARKS.md", line, line.replace(cells["Status"], flipped["Status"]))


def tamper_frames_to_target(project):
    from rlpipe.report.benchmarks import format_cells

    cell = format_cells(_score_cell(project))["Frames to target"]
    line = next(
        line
        for line in (project / "reports/BENCHMARKS.md").read_text().splitlines()
        if "runs/sac-pendulum" in line
    )
    _edit(project / "reports/BENCHMARKS.md", line, line.replace(f"| {cell} |", "| 1 (1/2) |"))


def tamper_aggregate(project):
    from rlpipe.report.benchmarks import format_aggregate_cells

    rows = json.loads((project / "reports" / "benchmarks.json").read_text())["aggregate"]["rows"]
    cell = format_aggregate_cells(rows[0])["IQM normalised score (95% CI)"]
    _edit(project / "reports/BENCHMARKS.md", f"| {cell} |", "| 9.99 [0.00, 9.99] |")


def tamper_spec(project):
    _edit(
        project / "pipelines/sac.yaml",
        "    env: {id: Pendulum-v1}\n    meta: {eval_interval: 5000}\n",
        "    env: {id: Pendulum-v1}\n    meta: {eval_interval: 5000, eval_episodes: 7}\n",
    )


def tamper_budget(project):
    _edit(project / "params/suite.yaml", "target: -200, budget: 1000", "target: -200, budget: 100")


def tamper_run_file(project):
    path = project / "runs/sac-pendulum/seed-0/metrics.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))


def tamper_lock_entry(project):
    import yaml

    path = project / "dvc.lock"
    lock = yaml.safe_load(path.read_text())
    del lock["stages"]["train-sac-pendulum-seeds-1"]
    path.write_text(yaml.safe_dump(lock, sort_keys=False))


def tamper_suite_entry(project):
    _edit(
        project / "params/suite.yaml",
        "  sac-pendulum: {family: sac, spec: pendulum, frames: 300, seed_groups: 2}\n",
        "",
    )


@pytest.mark.parametrize(
    "tamper,check",
    [
        (tamper_link, "missing-run"),
        (tamper_plot, "missing-plot"),
        (tamper_score, "number-mismatch"),
        (tamper_status, "status-mismatch"),
        (tamper_frames_to_target, "number-mismatch"),
        (tamper_aggregate, "number-mismatch"),
        (tamper_spec, "spec-drift stale-stage"),
        # benchmarks.json states each row's budget, as the suite gave it when the report ran
        (tamper_budget, "data-mismatch over-budget"),
        # the Below target section reads the curve whose last row the tamper cut
        (tamper_run_file, "dvc-lock-mismatch number-mismatch"),
        (tamper_lock_entry, "unrun-stage"),
        (tamper_suite_entry, "suite-mismatch"),
    ],
)
def test_audit_catches_each_kind_of_tampering_with_exactly_that_finding(project, tamper, check):
    try:
        tamper(project)
        assert audit_checks(project) == check.split()
    finally:
        restore(project)
    assert audit_checks(project) == []


def _spec_check_with_saved_spec(project, tmp_path, edit, rehash: bool):
    from rlpipe.report.audit import AuditPaths, _check_spec

    runs = tmp_path / "runs"
    shutil.copytree(project / "runs" / "sac-pendulum", runs / "sac-pendulum")
    path = runs / "sac-pendulum" / "spec.json"
    saved = json.loads(path.read_text())
    edit(saved["spec"])
    if rehash:
        stored = json.dumps(saved["spec"], sort_keys=True, separators=(",", ":")).encode()
        saved["spec_hash"] = hashlib.sha256(stored).hexdigest()
    path.write_text(json.dumps(saved))
    paths = AuditPaths(runs=runs, pipelines=project / "pipelines")
    return [(f.check, f.message) for f in _check_spec("sac-pendulum", paths)]


def test_a_schema_field_added_after_the_run_is_not_spec_drift(project, tmp_path):
    def older_schema(spec):  # the run predates target_update_interval (default 1)
        del spec["algorithm"]["target_update_interval"]

    assert _spec_check_with_saved_spec(project, tmp_path, older_schema, rehash=True) == []


def test_a_spec_json_edited_after_the_run_is_caught(project, tmp_path):
    def edited(spec):
        spec["algorithm"]["gamma"] = 0.95

    findings = _spec_check_with_saved_spec(project, tmp_path, edited, rehash=False)
    assert [check for check, _ in findings] == ["spec-drift"]
    assert "does not hash to its spec_hash" in findings[0][1]
