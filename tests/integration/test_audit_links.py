"""Audit of what the report links and the data it ships: each tamper is one named finding.

The project is a small suite of run folders made from made-up numbers with the real specs
(tests/fixtures.py); nothing trains. There is no dvc.yaml, so the dvc.lock check stays out of
these tests.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rlpipe.report.benchmarks
from rlpipe.cli import app
from rlpipe.hub.audit import check_hub_runs
from rlpipe.report.audit import CHECKS, AuditPaths, audit, offline_audit
from rlpipe.report.benchmarks import read_data_digest, write_report
from rlpipe.report.hub_links import run_url
from rlpipe.report.plots import plot_suite
from rlpipe.spec.suite import load_suite
from tests.conftest import REPO
from tests.fixtures import make_run, make_suite_file

SUITE = Path("params/suite.yaml")
REPORT = Path("reports/BENCHMARKS.md")
DATA = Path("reports/benchmarks.json")
ROW = "dqn-cartpole"
OWN_REPO = "rlpipe/benchmarks"
ENVS = {
    "cartpole": ("CartPole-v1", "classic", 400, 200_000),
    "acrobot": ("Acrobot-v1", "classic", -100, 300_000),
}
RUNS = [("dqn", "cartpole", 2000), ("ppo", "cartpole", 2000), ("ppo", "acrobot", 2000)]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A suite of three runs (made-up numbers, real specs) with plots and a fresh report, as the
    working folder."""
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    shutil.copytree(REPO / "references", tmp_path / "references")
    make_suite_file(tmp_path / SUITE, ENVS, RUNS, hub_repo=OWN_REPO)
    for family, spec, frames in RUNS:
        env_id = ENVS[spec][0]
        make_run(tmp_path / "runs", f"{family}-{spec}", family, spec, env_id, frames=frames,
                 pipelines=tmp_path / "pipelines")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    plot_suite(load_suite(SUITE))
    report()
    return tmp_path


def report() -> None:
    write_report(load_suite(SUITE), SUITE)


def findings() -> list[tuple[str, str, str]]:
    return [(f.check, f.row, f.message) for f in audit(load_suite(SUITE), AuditPaths())]


def checks() -> list[str]:
    return sorted({check for check, _, _ in findings()})


def edit_row(old: str, new: str, row: str = ROW) -> None:
    """Replace old with new in the table line of one run."""
    lines = REPORT.read_text().split("\n")
    index = next(i for i, line in enumerate(lines) if f"[runs/{row}]" in line)
    assert old in lines[index], lines[index]
    lines[index] = lines[index].replace(old, new)
    REPORT.write_text("\n".join(lines))


def rewrite_data(change) -> None:
    """Edit benchmarks.json and record its new digest in BENCHMARKS.md (a consistent forgery);
    a change that returns a str replaces the file's text with it."""
    document = json.loads(DATA.read_text())
    document = change(document) or document
    DATA.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    digest = hashlib.sha256(DATA.read_bytes()).hexdigest()
    REPORT.write_text(REPORT.read_text().replace(read_data_digest(REPORT.read_text()), digest))


def row_of(document: dict, key: str = ROW) -> dict:
    return next(row for row in document["rows"] if row["run"] == key)


def test_the_fresh_copy_passes(project):
    assert findings() == []


def test_every_check_is_named_in_audit_help_and_the_readme():
    assert {"wrong-link", "data-mismatch"} <= set(CHECKS)
    help_text = " ".join(
        CliRunner().invoke(app, ["audit", "--help"], terminal_width=100).output.split()
    )
    readme = (REPO / "README.md").read_text()
    for check in CHECKS:
        assert check in help_text, check
        assert f"`{check}` (" in readme, check


# --------------------------------------------------------------------------- links


def test_run_link_to_another_valid_run_is_a_wrong_link(project):
    edit_row("(../runs/dqn-cartpole)", "(../runs/ppo-cartpole)")
    assert findings() == [
        (
            "wrong-link",
            ROW,
            "link ../runs/ppo-cartpole holds run ppo/cartpole, not run dqn/cartpole",
        )
    ]


def test_run_folder_holding_another_run_is_a_wrong_link(project):
    shutil.rmtree(project / "runs" / ROW)
    shutil.copytree(project / "runs" / "ppo-cartpole", project / "runs" / ROW)
    report()  # every number in the table now agrees with the swapped folder
    assert checks() == ["wrong-link"]
    assert findings() == [
        (
            "wrong-link",
            ROW,
            "link ../runs/dqn-cartpole holds run ppo/cartpole, not run dqn/cartpole",
        )
    ]


def test_plot_link_to_another_envs_plot_is_a_wrong_link(project):
    edit_row("[plot](plots/cartpole.png)", "[plot](plots/acrobot.png)")
    assert findings() == [
        ("wrong-link", ROW, "plot link plots/acrobot.png is not this env's plots/cartpole.png")
    ]


def test_embedded_plot_of_another_env_is_a_wrong_link(project):
    text = REPORT.read_text()
    REPORT.write_text(
        text.replace("![CartPole-v1](plots/cartpole.png)", "![CartPole-v1](plots/acrobot.png)")
    )
    assert findings() == [
        (
            "wrong-link",
            "report",
            "the image of CartPole-v1 shows plots/acrobot.png, not its plot plots/cartpole.png",
        )
    ]


FOREIGN_LINKS = {
    "foreign host": f"https://evil.example/datasets/{OWN_REPO}/tree/main/runs/{ROW}",
    "another repo": f"https://huggingface.co/datasets/someone/else/tree/main/runs/{ROW}",
    "another run": f"https://huggingface.co/datasets/{OWN_REPO}/tree/main/runs/ppo-cartpole",
    "another revision": f"https://huggingface.co/datasets/{OWN_REPO}/tree/old/runs/{ROW}",
    "http, not https": f"http://huggingface.co/datasets/{OWN_REPO}/tree/main/runs/{ROW}",
}


@pytest.mark.parametrize("link", FOREIGN_LINKS.values(), ids=FOREIGN_LINKS)
def test_hub_link_outside_the_suites_repo_is_a_wrong_link(project, link):
    (project / "reports" / "hub.json").write_text(json.dumps({ROW: link}))
    report()  # the link is in both BENCHMARKS.md and benchmarks.json
    assert findings() == [
        (
            "wrong-link",
            ROW,
            f"Hub link {link} is not run {ROW} in the suite's repo {OWN_REPO} at "
            f"https://huggingface.co; expected {run_url(OWN_REPO, ROW)}",
        )
    ]


def test_hub_link_follows_the_configured_endpoint(project, monkeypatch):
    own = f"https://huggingface.co/datasets/{OWN_REPO}/tree/main/runs/{ROW}"
    (project / "reports" / "hub.json").write_text(json.dumps({ROW: own}))
    report()
    assert findings() == []
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.mirror.example")
    assert checks() == ["wrong-link"]
    mirrored = f"https://hub.mirror.example/datasets/{OWN_REPO}/tree/main/runs/{ROW}"
    (project / "reports" / "hub.json").write_text(json.dumps({ROW: mirrored}))
    report()
    assert findings() == []


def test_hub_link_in_the_table_but_not_in_hub_json_is_a_wrong_link(project):
    edit_row("(../runs/dqn-cartpole)", f"({run_url(OWN_REPO, ROW)})")
    assert findings() == [
        (
            "wrong-link",
            ROW,
            f"link {run_url(OWN_REPO, ROW)}, but the runs and reports/hub.json give "
            "../runs/dqn-cartpole: re-run rlpipe report",
        )
    ]


def test_online_check_asks_the_suites_repo(project):
    (project / "reports" / "hub.json").write_text(json.dumps({ROW: run_url(OWN_REPO, ROW)}))
    report()
    asked = []

    def remote_exists(repo: str, run: str) -> bool:
        asked.append((repo, run))
        return False

    suite = load_suite(SUITE)
    offline = offline_audit(suite, AuditPaths())
    assert offline.findings == []
    found = check_hub_runs(suite.hub_repo, offline.hub_runs, remote_exists=remote_exists)
    assert asked == [(OWN_REPO, ROW)]
    assert [(f.check, f.row) for f in found] == [("missing-run", ROW)]


# --------------------------------------------------------------------------- the whole report


def test_a_forged_second_row_for_a_run_is_a_suite_mismatch(project):
    lines = REPORT.read_text().split("\n")
    index = next(i for i, line in enumerate(lines) if f"[runs/{ROW}]" in line)
    score = lines[index].split(" | ")[3]
    forged = lines[index].replace(score, "499.9 [499.0, 500.0]").replace("❌ fail", "✅ pass")
    REPORT.write_text("\n".join([*lines[:index], forged, *lines[index:]]))
    assert findings() == [("suite-mismatch", ROW, "the report has more than one row for this run")]


@pytest.mark.parametrize(
    "old,new,line",
    [
        ("suite budget 300,000 frames.", "suite budget 3,000,000 frames.",
         "  - Acrobot-v1 (`acrobot`): trained"),
        ("![CartPole-v1](plots/cartpole.png)",
         "![CartPole-v1](plots/cartpole.png)\n\nEvery row here beats SLM-Lab.", ""),
        ("## How to reproduce", "## How to reproduce (tested on GPU)", "## How to reproduce (t"),
    ],
    ids=["frame-budgets", "added-text", "heading"],
)  # fmt: skip
def test_text_the_cell_checks_do_not_parse_is_report_drift(project, old, new, line):
    text = REPORT.read_text()
    assert old in text
    REPORT.write_text(text.replace(old, new, 1))
    (found,) = findings()
    assert found[:2] == ("report-drift", "BENCHMARKS.md")
    assert f"report says {line!r}" in found[2] or f"report says '{line}" in found[2], found
    assert "rlpipe report writes" in found[2]


def test_report_drift_waits_for_the_findings_that_name_the_cell(project):
    edit_row(" | ❌ fail", " | ✅ pass")
    REPORT.write_text(REPORT.read_text().replace("## How to reproduce", "## How to run"))
    assert checks() == ["status-mismatch"]


def test_a_dvc_project_without_its_dvc_yaml_is_a_suite_mismatch(project):
    shutil.copytree(REPO / "rlpipe", project / "rlpipe")  # the code the fingerprints cover
    (project / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    found = findings()
    message = "the project has dvc.lock or fingerprints/ but no dvc.yaml: run rlpipe suite stages"
    assert ("suite-mismatch", "dvc.yaml", message) in found
    # no fingerprints/ either: every run's code is unaccounted for
    assert {check for check, _, _ in found} == {"suite-mismatch", "stale-stage"}


# --------------------------------------------------------------------------- summary.json


def _rewrite(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_a_summary_that_its_seeds_do_not_give_is_a_number_mismatch(project):
    _rewrite(project / "runs" / ROW / "summary.json", lambda d: d.update(fps=d["fps"] * 10))
    report()  # the table now shows the edited frames/s, in step with summary.json
    (found,) = findings()
    assert found[:2] == ("number-mismatch", ROW)
    assert found[2].startswith("summary.json: fps says ")
    assert "the seeds' result.json give" in found[2]


def test_a_summary_of_fewer_seeds_than_the_spec_names_is_a_number_mismatch(project):
    def one_seed(summary):
        summary.update(seeds=[0], per_seed=summary["per_seed"][:1])

    _rewrite(project / "runs" / ROW / "summary.json", one_seed)
    report()
    problems = [message for check, row, message in findings() if row == ROW]
    assert "summary.json: seeds says [0], the seeds' result.json give [0, 1]" in problems


def test_a_missing_seed_result_is_a_finding_not_a_crash(project):
    (project / "runs" / ROW / "seed-1" / "result.json").unlink()
    found = [(check, message) for check, row, message in findings() if row == ROW]
    assert found == [("number-mismatch", "Score (95% CI): cannot re-derive it from "
                      f"runs/{ROW}'s seeds: seeds 1 have no result.json")]  # fmt: skip


def test_metrics_without_a_return_column_are_a_finding_not_a_crash(project):
    metrics = project / "runs" / ROW / "seed-0" / "metrics.csv"
    lines = metrics.read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("return_ma")
    metrics.write_text(
        "\n".join(
            ",".join(v for i, v in enumerate(line.split(",")) if i != column) for line in lines
        )
        + "\n"
    )
    # the Below target section reads that seed's curve, now without a return: named, no crash
    assert findings() == [("number-mismatch", "below-target", findings()[0][2])]


# --------------------------------------------------------------------------- damaged runs

DAMAGES = {
    "spec-missing": ("spec.json", None),
    "provenance-not-utf8": ("provenance.json", b"\xff\xfe{"),
    "summary-truncated": ("summary.json", b'{"score": '),
    "metrics-not-utf8": ("seed-1/metrics.csv", b"frame,return_ma\n\xff\xfe\n"),
    "metrics-missing": ("seed-0/metrics.csv", None),
    "result-not-json": ("seed-1/result.json", b"{"),
    "metrics-torn": ("seed-1/metrics.csv", b"frame,return_ma\n1000,-150.0\n2000,-14"),
}


def damage(key: str, name: str, content: bytes | None) -> Path:
    """Delete (content None) or overwrite one file of runs/<key>; return its path."""
    path = Path("runs") / key / name
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(("name", "content"), DAMAGES.values(), ids=list(DAMAGES))
def test_an_unreadable_run_file_is_a_damaged_run_that_says_to_restore_it_first(
    project, name, content
):
    path = damage(ROW, name, content)
    ((check, row, message),) = findings()
    assert (check, row) == ("damaged-run", ROW)
    assert message.startswith(f"{path} ")  # the file first, then what is wrong with it
    assert f"restore it from git (git checkout -- {path}) or DVC (dvc checkout)" in message
    assert message.index("git checkout") < message.index(f"--out runs/{ROW} --overwrite")


def test_the_audit_goes_on_past_damaged_runs_and_names_every_problem(project):
    damage(ROW, "spec.json", None)
    damage("ppo-acrobot", "provenance.json", b"\xff\xfe{")
    edit_row("(../runs/ppo-cartpole)", "(../runs/dqn-cartpole)", row="ppo-cartpole")
    found = [(check, row) for check, row, _ in findings()]
    assert found == [
        ("damaged-run", ROW),
        ("damaged-run", "ppo-acrobot"),
        ("wrong-link", "ppo-cartpole"),
    ]


def test_audit_json_lists_damaged_runs_and_exits_1(project):
    damage(ROW, "spec.json", None)
    damage("ppo-acrobot", "provenance.json", b"\xff\xfe{")
    result = CliRunner().invoke(app, ["audit", "--json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert [(f["check"], f["row"]) for f in document["findings"]] == [
        ("damaged-run", ROW),
        ("damaged-run", "ppo-acrobot"),
    ]
    assert "runs/ppo-acrobot/provenance.json cannot be read" in document["findings"][1]["message"]


def test_a_damaged_parity_twin_is_one_finding_not_also_a_mismatch_of_the_peer_row(
    tmp_path, monkeypatch
):
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    shutil.copytree(REPO / "references", tmp_path / "references")
    make_suite_file(tmp_path / SUITE, ENVS, [("ppo", "cartpole", 2000)], hub_repo=OWN_REPO)
    twin = "  ppo-cartpole-sb3: {family: ppo, spec: cartpole, frames: 2000, peer: sb3}\n"
    (tmp_path / SUITE).write_text((tmp_path / SUITE).read_text() + twin)
    for key, offset in (("ppo-cartpole", 0.0), ("ppo-cartpole-sb3", -20.0)):
        make_run(tmp_path / "runs", key, "ppo", "cartpole", "CartPole-v1", frames=2000,
                 score_offset=offset, pipelines=tmp_path / "pipelines")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    plot_suite(load_suite(SUITE))
    report()
    assert findings() == []
    damage("ppo-cartpole", "summary.json", b"\xff")
    assert [(check, row) for check, row, _ in findings()] == [("damaged-run", "ppo-cartpole")]


# --------------------------------------------------------------------------- benchmarks.json


def test_report_records_the_digest_of_the_data_it_wrote(project):
    assert read_data_digest(REPORT.read_text()) == hashlib.sha256(DATA.read_bytes()).hexdigest()


@pytest.mark.parametrize("garbage", [b"", b"\x00\xff garbage", b"{not json", b"[1, 2, 3]"])
def test_garbage_benchmarks_json_is_a_data_mismatch(project, garbage):
    DATA.write_bytes(garbage)
    assert checks() == ["data-mismatch"]
    assert "is not the one BENCHMARKS.md was written with" in findings()[0][2]


def test_missing_benchmarks_json_is_a_data_mismatch(project):
    DATA.unlink()
    assert checks() == ["data-mismatch"]
    assert findings()[0][2].startswith("cannot read reports/benchmarks.json")


def test_report_without_a_digest_is_a_data_mismatch(project):
    text = REPORT.read_text()
    REPORT.write_text(
        text.replace(f"<!-- benchmarks.json sha256: {read_data_digest(text)} -->", "")
    )
    assert findings() == [
        (
            "data-mismatch",
            "benchmarks.json",
            "BENCHMARKS.md records no benchmarks.json digest: re-run rlpipe report",
        )
    ]


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: {"rows": 5}, "is not a list of rows, each with a run"),
        (lambda d: [d], "is not a list of rows, each with a run"),
        (lambda d: {"rows": [{"run": 7}]}, "is not a list of rows, each with a run"),
        (lambda d: row_of(d).update(frames="2000"), "says frames '2000' (the run gives 2000)"),
        (lambda d: row_of(d).update(score=None), "says score None (the run gives 105.0"),
        (lambda d: row_of(d).update(ci95={"lo": 1}), "says ci95 {'lo': 1} (the run gives ["),
        (lambda d: row_of(d).update(status="pass"), "says status 'pass' (the run gives 'fail')"),
        (lambda d: row_of(d).update(link="../runs/ppo-cartpole"), "says link '../runs/ppo-cartpole'"),
        (lambda d: row_of(d).update(iqm=row_of(d)["iqm"] + 0.01), "says iqm "),
        (lambda d: d["rows"].remove(row_of(d)), "the table has this row, benchmarks.json has not"),
        (lambda d: row_of(d).update(frames_to_target=1), "says frames_to_target 1 (the run"),
        (lambda d: row_of(d).update(cpu_core_s=0.0), "says cpu_core_s 0.0 (the run gives"),
        (lambda d: row_of(d).update(verified=True), "says verified True (the run gives None)"),
        (lambda d: d["aggregate"]["rows"][0].update(iqm=9.99), "benchmarks.json aggregate is not"),
        (lambda d: d.update(suite="params/other.yaml"), "benchmarks.json suite is not"),
        (lambda d: d.update(note="all verified"), "has a field 'note' that rlpipe report does"),
        (lambda d: "[" * 100_000 + "]" * 100_000, "is not JSON"),
    ],
    ids=["rows-number", "list", "run-number", "frames-text", "no-score", "ci-mapping", "status",
         "link", "iqm", "row-removed", "frames-to-target", "compute", "extra-field", "aggregate",
         "suite", "extra-top-field", "nested-past-recursion"],
)  # fmt: skip
def test_forged_benchmarks_json_is_a_data_mismatch(project, change, message):
    rewrite_data(change)
    found = findings()
    assert [check for check, _, _ in found] == ["data-mismatch"], found
    assert message in found[0][2]


def test_a_score_changed_below_the_tables_rounding_is_caught_in_the_data(project):
    def nudge(document):
        row_of(document)["score"] += 0.001  # the table still shows the same one-decimal score

    rewrite_data(nudge)
    assert checks() == ["data-mismatch"]


def test_the_data_check_allows_another_cpus_last_bits_but_not_a_real_change(project):
    def last_bits(document):
        row = document["aggregate"]["rows"][0]
        row["iqm"] = row["iqm"] * (1 + 1e-13)  # a bootstrap mean summed in another order

    rewrite_data(last_bits)
    assert findings() == []

    def real(document):
        row = document["aggregate"]["rows"][0]
        row["iqm"] = row["iqm"] * (1 + 1e-6)

    rewrite_data(real)
    assert checks() == ["data-mismatch"]


def test_a_kill_between_the_two_writes_leaves_a_named_mismatch(project, monkeypatch):
    (project / "reports" / "hub.json").write_text(json.dumps({ROW: run_url(OWN_REPO, ROW)}))

    def killed(path, text):
        raise KeyboardInterrupt  # the process dies after benchmarks.json, before BENCHMARKS.md

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(rlpipe.report.benchmarks, "atomic_write_text", killed)
        report()
    assert row_of(json.loads(DATA.read_text()))["link"] == run_url(OWN_REPO, ROW)
    found = findings()
    assert ("data-mismatch", "benchmarks.json") in [(check, row) for check, row, _ in found]
    report()  # re-running the report puts the pair back in step
    assert findings() == []


# --------------------------------------------------------------------------- replays


@pytest.fixture
def with_replays(project) -> Path:
    """The project with `replays: true` in its suite, a GIF per run (as the replay-<run>
    stages write them) and the report rewritten."""
    from PIL import Image

    SUITE.write_text(SUITE.read_text() + "replays: true\n")
    for family, spec, _ in RUNS:
        path = Path("reports/replays") / f"{family}-{spec}.gif"
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = [Image.new("RGB", (8, 8), (shade, 0, 0)) for shade in (0, 128, 255)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=40)
    report()
    return project


def replays_section() -> list[str]:
    text = REPORT.read_text()
    section = text[text.index("## Replays") :].split("\n## ")[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_replays_section_shows_each_runs_gif_beside_its_score(with_replays):
    lines = replays_section()
    assert [line.split(" | ")[0] for line in lines] == [f"| `{f}-{s}`" for f, s, _ in RUNS]
    rows = rlpipe.report.benchmarks.parse_markdown_rows(REPORT.read_text())
    row = next(cells for cells in rows if cells["Run"].startswith(f"[runs/{ROW}]"))
    assert f" | {row['Env']} | {row['Algorithm']} | {row['Score (95% CI)']} | " in lines[0]
    assert lines[0].endswith(f"![replay of {ROW}](replays/{ROW}.gif) |")
    assert findings() == []


def test_no_replays_section_without_replays_in_the_suite(project):
    assert "## Replays" not in REPORT.read_text()


def test_missing_replay_gif_is_a_missing_replay(with_replays):
    Path(f"reports/replays/{ROW}.gif").unlink()
    assert [(c, r) for c, r, _ in findings()] == [("missing-replay", ROW)]
    assert f"dvc repro replay-{ROW}" in findings()[0][2]


def test_replay_that_is_not_a_gif_is_a_missing_replay(with_replays):
    Path(f"reports/replays/{ROW}.gif").write_bytes(b"\x89PNG\r\n\x1a\nnot a gif")
    assert findings() == [("missing-replay", ROW, f"reports/replays/{ROW}.gif is not a GIF")]


def test_replay_link_to_another_runs_gif_is_a_wrong_link(with_replays):
    text = REPORT.read_text()
    REPORT.write_text(text.replace(f"(replays/{ROW}.gif)", "(replays/ppo-cartpole.gif)"))
    assert findings() == [
        (
            "wrong-link",
            ROW,
            f"replay link replays/ppo-cartpole.gif is not the run's GIF replays/{ROW}.gif",
        )
    ]


def test_replay_row_removed_is_a_missing_replay(with_replays):
    line = next(line for line in replays_section() if line.startswith(f"| `{ROW}`"))
    REPORT.write_text(REPORT.read_text().replace(line + "\n", ""))
    assert findings() == [("missing-replay", ROW, "no row in the Replays section")]


def test_report_warns_about_suite_runs_still_missing(project):
    shutil.rmtree("runs/ppo-acrobot")  # as while it re-trains
    result = CliRunner().invoke(app, ["report"])
    assert result.exit_code == 0, result.output
    assert "1 suite run(s) have no finished run folder" in result.output
    assert "ppo-acrobot" in result.output and "`rlpipe audit` fails" in result.output
