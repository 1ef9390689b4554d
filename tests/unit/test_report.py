"""BENCHMARKS.md and benchmarks.json: rows, statuses, cells, links, references, round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.report.audit import AuditPaths, audit
from rlpipe.report.benchmarks import (
    COLUMNS,
    build_rows,
    format_cells,
    parse_markdown_rows,
    render_markdown,
    status,
    write_report,
)
from rlpipe.report.plots import plot_suite
from rlpipe.spec.suite import Suite, load_suite
from tests.fixtures import FIXTURE_CPU, FIXTURE_GPU, make_run, make_suite_file

SUITE_PATH = "params/suite.yaml"
HUB_URL = "https://huggingface.co/datasets/rlpipe/fixture/tree/main/runs/crossq-cartpole"
REFERENCES_CSV = """\
# made-up reference scores for tests
env,category,target,ppo_score,ppo_frames,sac_score,sac_frames,crossq_score,crossq_frames,crossq_updates_per_frame
Pendulum-v1,classic,-200,-174.87,300000,-150.97,300000,-145.66,300000,
CartPole-v1,classic,400,498.94,200000,406.09,200000,,,
Hopper-v5,mujoco,2000,1653.74,4000000,1416.52,3000000,1168.53,3000000,0.0625
"""


def build_project(root: Path) -> Suite:
    """Write a suite and run folders under root: sac-lunar has no run, crossq-hopper ran on CUDA."""
    make_suite_file(root / SUITE_PATH)
    runs = root / "runs"
    make_run(runs, "sac-pendulum", "sac", "pendulum", "Pendulum-v1", score_offset=-300.0)
    make_run(runs, "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1", score_offset=-310.0)
    make_run(runs, "crossq-cartpole", "crossq", "cartpole", "CartPole-v1", score_offset=295.0)
    make_run(runs, "crossq-hopper", "crossq", "hopper", "Hopper-v5", frames=2000, device="cuda:0")
    (root / "references").mkdir()
    (root / "references" / "slm_lab.csv").write_text(REFERENCES_CSV)
    return load_suite(root / SUITE_PATH)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project folder with a suite, four of its five runs and a reference CSV."""
    root = tmp_path_factory.mktemp("report") / "project"
    build_project(root)
    return root


@pytest.fixture
def suite(project) -> Suite:
    return load_suite(project / SUITE_PATH)


def rows_of(project: Path, suite: Suite, **kwargs) -> dict[str, dict]:
    rows = build_rows(
        suite,
        project / "runs",
        project / "reports" / "plots",
        references=project / "references" / "slm_lab.csv",
        reports_dir=project / "reports",
        **kwargs,
    )
    return {row["run"]: row for row in rows}


# --------------------------------------------------------------------------- status


def test_score_equal_to_target_passes_and_below_fails():
    assert status(400.0, 400) == "pass"
    assert status(399.95, 400) == "fail"
    assert status(400.01, 400) == "pass"
    assert status(None, 400) == "no score"


def test_negative_target_compares_by_value_not_magnitude():
    assert status(-100.0, -100) == "pass"
    assert status(-99.9, -100) == "pass"
    assert status(-100.1, -100) == "fail"
    assert status(-500.0, -100) == "fail"


# --------------------------------------------------------------------------- rows


def test_rows_ordered_by_category_then_env_order_then_run_order(project, suite):
    rows = build_rows(suite, project / "runs", references=project / "references" / "slm_lab.csv")
    # suite file order: envs hopper, pendulum, lunar, cartpole; runs sac-pendulum first
    assert [row["run"] for row in rows] == [
        "sac-pendulum",
        "crossq-pendulum",
        "crossq-cartpole",
        "sac-lunar",
        "crossq-hopper",
    ]
    assert [row["category"] for row in rows] == ["classic"] * 3 + ["box2d", "mujoco"]


def test_suite_run_without_run_folder_gets_a_missing_run_row(project, suite):
    row = rows_of(project, suite)["sac-lunar"]
    assert row["status"] == "missing run"
    assert [row[k] for k in ("score", "ci95", "frames", "fps", "device", "spec_hash")] == [None] * 6
    assert row["link"] == "../runs/sac-lunar"
    assert row["target"] == 200 and row["budget"] == 300_000
    cells = format_cells(row)
    assert cells["Status"] == "— missing run"
    assert cells["Score (95% CI)"] == cells["Frames"] == cells["Spec"] == "—"


def test_run_folder_whose_seeds_have_not_finished_is_a_missing_run(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    run = root / "runs" / "crossq-cartpole"
    (run / "summary.json").unlink()
    for seed in (0, 1):
        (run / f"seed-{seed}" / "result.json").unlink()  # metrics logged, training cut short
    row = rows_of(root, suite)["crossq-cartpole"]
    assert row["status"] == "missing run" and row["score"] is None
    assert row["seeds_trained"] == []


def test_run_with_some_seed_groups_trained_is_unfinished_and_says_how_many(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    run = root / "runs" / "crossq-cartpole"
    (run / "summary.json").unlink()
    shutil.rmtree(run / "seed-1")  # the second seed group trains in a later session
    row = rows_of(root, suite)["crossq-cartpole"]
    assert row["status"] == "unfinished" and row["seeds_trained"] == [0]
    assert row["score"] is None and row["frames"] is None
    cells = format_cells(row)
    assert cells["Status"] == "— unfinished (1/2 seeds trained)"
    assert cells["Score (95% CI)"] == cells["Eval"] == "—"
    text = render_markdown(list(rows_of(root, suite).values()), suite, SUITE_PATH)
    assert "![CartPole-v1](plots/cartpole.png)" in text  # its seed's curve is drawn

    paths = AuditPaths(suite=root / SUITE_PATH, reports=root / "reports", runs=root / "runs",
                       pipelines=root / "pipelines", root=root)  # fmt: skip
    write_report(suite, SUITE_PATH, paths.reports, paths.runs, random_scores=paths.random_scores)
    messages = {f.row: f.message for f in audit(suite, paths) if f.check == "suite-mismatch"}
    assert messages["crossq-cartpole"].startswith(
        "suite run has not finished: seeds 0 of 2 trained in "
    )
    assert messages["sac-lunar"].startswith("suite run has no run folder")


def test_row_numbers_come_from_the_run_summary(project, suite):
    row = rows_of(project, suite)["sac-pendulum"]
    summary = json.loads((project / "runs/sac-pendulum/summary.json").read_text())
    spec = json.loads((project / "runs/sac-pendulum/spec.json").read_text())
    # fixture: seed K ends at offset + 100 + 10*K, so two seeds score -300 + 105
    assert row["score"] == pytest.approx(-195.0) == summary["score"]
    assert row["ci95"] == summary["score_ci95"]
    assert row["iqm"] == summary["score_iqm"]
    assert row["eval_return"] == pytest.approx(-190.0)
    assert row["status"] == "pass"  # -195 >= -200
    assert row["frames"] == 1000 and row["fps"] == pytest.approx(550.0)
    assert row["spec_hash"] == spec["spec_hash"] and len(row["spec_hash"]) == 64
    assert row["plot"] == "plots/pendulum.png"
    assert row["link"] == "../runs/sac-pendulum"


def test_status_follows_from_score_and_suite_target(project, suite):
    rows = rows_of(project, suite)
    assert rows["crossq-pendulum"]["score"] == pytest.approx(-205.0)
    assert rows["crossq-pendulum"]["status"] == "fail"  # below -200
    assert rows["crossq-cartpole"]["score"] == pytest.approx(400.0)
    assert rows["crossq-cartpole"]["status"] == "pass"  # exactly at target 400


def test_device_is_cpu_model_on_cpu_and_gpu_name_on_cuda(project, suite):
    rows = rows_of(project, suite)
    assert rows["sac-pendulum"]["device"] == FIXTURE_CPU
    assert rows["crossq-hopper"]["device"] == FIXTURE_GPU


def test_cuda_run_without_gpu_name_shows_the_device_string(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    path = root / "runs/crossq-hopper/provenance.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "gpu_name": None}))
    assert rows_of(root, suite)["crossq-hopper"]["device"] == "cuda:0"


def test_slm_lab_reference_is_picked_by_family_and_env(project, suite):
    rows = rows_of(project, suite)
    assert rows["sac-pendulum"]["slm_lab"] == -150.97
    assert rows["crossq-pendulum"]["slm_lab"] == -145.66
    assert rows["crossq-hopper"]["slm_lab"] == 1168.53
    assert rows["crossq-hopper"]["slm_lab_frames"] == 3_000_000
    assert rows["crossq-cartpole"]["slm_lab"] is None  # empty cell for crossq
    assert rows["sac-lunar"]["slm_lab"] is None  # env not in the CSV
    assert rows["crossq-hopper"]["slm_lab_updates_per_frame"] == 0.0625  # 16 envs, 1 update each
    assert rows["sac-pendulum"]["slm_lab_updates_per_frame"] is None  # no figure for SAC
    assert format_cells(rows["crossq-hopper"])["SLM-Lab v5.2"] == (
        "1168.5 (3,000,000 frames, 0.0625 updates/frame)"
    )
    assert format_cells(rows["sac-pendulum"])["SLM-Lab v5.2"] == "-151.0 (300,000 frames)"
    assert format_cells(rows["crossq-cartpole"])["SLM-Lab v5.2"] == "—"


def test_missing_reference_file_leaves_the_column_empty(project, suite):
    rows = build_rows(suite, project / "runs", references=project / "no-such.csv")
    assert {row["slm_lab"] for row in rows} == {None}


def test_hub_link_replaces_the_local_link_for_listed_runs(project, suite):
    rows = rows_of(project, suite, hub_links={"crossq-cartpole": HUB_URL})
    assert rows["crossq-cartpole"]["link"] == HUB_URL
    assert rows["sac-pendulum"]["link"] == "../runs/sac-pendulum"
    assert format_cells(rows["crossq-cartpole"])["Run"] == f"[runs/crossq-cartpole]({HUB_URL})"


# --------------------------------------------------------------------------- cells


def full_row(**changes) -> dict:
    row = {
        "run": "crossq-cartpole",
        "family": "crossq",
        "spec": "cartpole",
        "env": "CartPole-v1",
        "category": "classic",
        "score": -152.345,
        "ci95": [-170.06, -140.24],
        "iqm": -150.0,
        "eval_return": -140.0,
        "status": "fail",
        "target": 400.0,
        "frames_to_target": 31_000.0,
        "frames_to_target_per_seed": [30_000, None, 34_000, 29_000],
        "frames": 10_000,
        "budget": 200_000,
        "fps": 1234.6,
        "cpu_core_s": 750.0,
        "gpu_s": 0.0,
        "device": "AMD EPYC 7763 64-Core Processor",
        "spec_hash": "0123456789abcdef" * 4,
        "link": "../runs/crossq-cartpole",
        "plot": "plots/cartpole.png",
        "slm_lab": 334.59,
        "slm_lab_frames": 200_000,
        "slm_lab_updates_per_frame": 0.25,
        "updates_per_frame": 0.9,
        "rl_zoo": {"mean": 500.0, "std": 0.0, "timesteps": 50_000, "env": "CartPole-v1"},
    }
    return {**row, **changes}


def test_format_cells_gives_the_exact_table_strings():
    assert format_cells(full_row()) == {
        "Env": "CartPole-v1",
        "Algorithm": "CrossQ",
        "Score (95% CI)": "-152.3 [-170.1, -140.2]",
        "Eval": "-140.0",
        "Status": "❌ fail",
        "Target": "400",
        "Frames to target": "31,000 (3/4)",
        "Frames": "10,000",
        "Updates/frame": "0.9",
        "FPS": "1,235",
        "Compute": "12.5 CPU core-min",
        "Device": "AMD EPYC 7763 64-Core Processor",
        "Spec": "`0123456789ab`",
        "Run": "[runs/crossq-cartpole](../runs/crossq-cartpole)",
        "SLM-Lab v5.2": "334.6 (200,000 frames, 0.25 updates/frame)",
        "RL Zoo": "500.0 ± 0.0 (50,000 steps)",
        "Plot": "[plot](plots/cartpole.png)",
    }


def test_rl_zoo_cell_names_its_env_version_where_it_is_not_ours_and_dashes_without_one():
    zoo = {"mean": 154.382, "std": 79.241, "timesteps": 100_000, "env": "LunarLander-v2"}
    row = full_row(env="LunarLander-v3", rl_zoo=zoo, eval_return=None, updates_per_frame=None)
    cells = format_cells(row)
    assert cells["RL Zoo"] == "154.4 ± 79.2 (100,000 steps, LunarLander-v2)"
    assert cells["Eval"] == cells["Updates/frame"] == "—"
    assert format_cells(full_row(rl_zoo=None))["RL Zoo"] == "—"


@pytest.mark.parametrize(
    "target,cell", [(400.0, "400"), (-100.0, "-100"), (0.5, "0.5"), (12.34, "12.3"), (-0.01, "0")]
)
def test_target_cell_has_at_most_one_decimal(target, cell):
    assert format_cells(full_row(target=target))["Target"] == cell


@pytest.mark.parametrize(
    "state,cell",
    [
        ("pass", "✅ pass"),
        ("fail", "❌ fail"),
        ("no score", "— no score"),
        ("missing run", "— missing run"),
    ],
)
def test_status_cells(state, cell):
    assert format_cells(full_row(status=state))["Status"] == cell


def test_score_without_ci_and_without_score():
    assert format_cells(full_row(ci95=None))["Score (95% CI)"] == "-152.3"
    assert format_cells(full_row(score=None, ci95=None))["Score (95% CI)"] == "—"


# --------------------------------------------------------------------------- Markdown


def test_parsed_markdown_cells_equal_format_cells_for_every_row(project, suite):
    rows = list(rows_of(project, suite, hub_links={"crossq-cartpole": HUB_URL}).values())
    parsed = parse_markdown_rows(render_markdown(rows, suite, SUITE_PATH))
    assert len(parsed) == len(rows) == 5
    for cells, row in zip(parsed, rows, strict=True):
        assert cells == {**format_cells(row), "category": row["category"]}


def test_pipe_in_a_cell_survives_the_round_trip(project, suite):
    rows = [{**row, "device": "GPU | weird name"} for row in rows_of(project, suite).values()]
    parsed = parse_markdown_rows(render_markdown(rows, suite, SUITE_PATH))
    assert parsed[0]["Device"] == "GPU \\| weird name" == format_cells(rows[0])["Device"]
    assert list(parsed[0])[: len(COLUMNS)] == list(COLUMNS)


def test_markdown_has_a_section_per_present_category_in_order(project, suite):
    text = render_markdown(list(rows_of(project, suite).values()), suite, SUITE_PATH)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## How to reproduce",
        "## Classic",
        "## Box2D",
        "## MuJoCo",
        "## Throughput",
        "## Notes",
    ]
    header = "| " + " | ".join(COLUMNS) + " |"
    assert text.count(header) == 3
    assert header == (
        "| Env | Algorithm | Score (95% CI) | Eval | Status | Target | Frames to target | Frames "
        "| Updates/frame | FPS | Compute | Device | Spec | Run | SLM-Lab v5.2 | RL Zoo | Plot |"
    )


def test_env_plots_are_embedded_once_per_env_with_a_run(project, suite):
    text = render_markdown(list(rows_of(project, suite).values()), suite, SUITE_PATH)
    assert text.count("![Pendulum-v1](plots/pendulum.png)") == 1  # two runs, one image
    assert text.count("![CartPole-v1](plots/cartpole.png)") == 1
    assert text.count("![Hopper-v5](plots/hopper.png)") == 1
    assert "![LunarLander-v3]" not in text  # its only run is missing
    assert text.count("![frames per second](plots/fps.png)") == 1


def test_how_to_reproduce_gives_commands_score_definition_and_budgets(project, suite):
    text = render_markdown(list(rows_of(project, suite).values()), suite, SUITE_PATH)
    for command in (
        'pip install -e ".[box2d,mujoco]"',
        "\ndvc repro",
        "\nrlpipe report --suite params/suite.yaml\n",
        "\nrlpipe audit --suite params/suite.yaml\n",
    ):
        assert command in text
    assert "cp " not in text
    assert "last `meta.return_window` (100 by default) training-episode returns" in text
    assert "bootstrap" in text
    assert (
        "  - Hopper-v5 (`hopper`): trained for CrossQ 2,000 frames per seed; "
        "suite budget 3,000,000 frames." in text
    )
    assert text.index("## How to reproduce") < text.index("## Classic") < text.index("## Notes")


def test_notes_state_the_score_windows_and_the_evaluation_protocol(project, suite):
    text = render_markdown(list(rows_of(project, suite).values()), suite, SUITE_PATH)
    notes = text[text.index("## Notes") :]
    assert "moving average over its last 100 checkpoints" in notes
    assert "last `meta.return_window` (100 by default) training-episode returns" in notes
    assert "`eval_epsilon`, 0.05 by default, as CleanRL's DQN evaluation. Atari" in notes
    assert "FIRE pressed after a reset and after a lost life" in notes
    assert "`target_entropy_scale` x log|A|, 0.89 by default" in notes
    assert "SLM-Lab uses 0.6 log|A|" in notes
    assert "sets another fraction" not in notes  # every fixture spec keeps the default


def test_notes_name_the_runs_with_another_eval_epsilon(tmp_path):
    suite = build_project(tmp_path)
    spec_file = tmp_path / "runs" / "crossq-cartpole" / "spec.json"
    saved = json.loads(spec_file.read_text())
    saved["spec"].setdefault("algorithm", {})["eval_epsilon"] = 0.01
    spec_file.write_text(json.dumps(saved))
    rows = rows_of(tmp_path, suite)
    assert rows["crossq-cartpole"]["eval_epsilon"] == 0.01
    assert rows["crossq-pendulum"]["eval_epsilon"] is None  # its algorithm has none
    assert rows["sac-lunar"]["eval_epsilon"] is None  # no run
    notes = render_markdown(list(rows.values()), suite, SUITE_PATH).split("## Notes")[1]
    assert (
        "`eval_epsilon`, 0.05 by default, as CleanRL's DQN evaluation (runs whose spec sets "
        "another: crossq-cartpole (0.01)). Atari" in notes
    )


def test_notes_name_the_runs_with_another_target_entropy(tmp_path):
    suite = build_project(tmp_path)
    runs = tmp_path / "runs"
    for run, algorithm in (
        ("crossq-cartpole", {"target_entropy_scale": 0.3}),
        ("sac-pendulum", {"target_entropy": -2.0, "target_entropy_scale": 0.5}),
    ):
        spec_file = runs / run / "spec.json"
        saved = json.loads(spec_file.read_text())
        saved["spec"].setdefault("algorithm", {}).update(algorithm)
        spec_file.write_text(json.dumps(saved))
    rows = rows_of(tmp_path, suite)
    assert rows["crossq-cartpole"]["target_entropy_scale"] == 0.3
    assert rows["sac-pendulum"]["target_entropy_scale"] is None  # set outright: no fraction
    assert rows["sac-lunar"]["target_entropy_scale"] is None  # no run
    notes = render_markdown(list(rows.values()), suite, SUITE_PATH).split("## Notes")[1]
    assert (
        "Runs whose spec sets another fraction (its comment says why): crossq-cartpole (0.3)."
        in notes
    )


def test_notes_name_the_runs_scored_over_another_window(tmp_path):
    suite = build_project(tmp_path)
    spec_file = tmp_path / "runs" / "crossq-cartpole" / "spec.json"
    saved = json.loads(spec_file.read_text())
    saved["spec"]["meta"]["return_window"] = 10
    spec_file.write_text(json.dumps(saved))
    rows = rows_of(tmp_path, suite)
    assert rows["crossq-cartpole"]["score_window"] == 10
    assert rows["sac-pendulum"]["score_window"] == 100  # the schema's default
    assert rows["sac-lunar"]["score_window"] is None  # no run
    notes = render_markdown(list(rows.values()), suite, SUITE_PATH).split("## Notes")[1]
    assert (
        "Runs scored over another number of episodes (their spec's comment says why): "
        "crossq-cartpole (10)." in notes
    )


def test_notes_name_no_other_window_when_every_run_uses_the_default(project, suite):
    notes = render_markdown(list(rows_of(project, suite).values()), suite, SUITE_PATH)
    assert "another number of episodes" not in notes


def test_suite_outside_params_is_copied_where_dvc_reads_it(project, suite):
    text = render_markdown(list(rows_of(project, suite).values()), suite, "params/suite-smoke.yaml")
    assert "cp params/suite-smoke.yaml params/suite.yaml" in text
    assert "rlpipe audit --suite params/suite-smoke.yaml" in text


def test_classic_only_suite_installs_no_extras(tmp_path):
    path = make_suite_file(
        tmp_path / "suite.yaml",
        envs={"cartpole": ("CartPole-v1", "classic", 400, 1000)},
        runs=[("crossq", "cartpole", 500)],
    )
    text = render_markdown([], load_suite(path), "suite.yaml")
    assert "pip install -e .\n" in text and "## Classic" not in text


# --------------------------------------------------------------------------- files


def generate(root: Path) -> dict[str, bytes]:
    """Build the project under root, plot and report it; return {relative path: bytes}."""
    suite = build_project(root)
    plot_suite(suite, root / "runs", root / "reports" / "plots")
    write_report(
        suite, SUITE_PATH, root / "reports", root / "runs", root / "references/slm_lab.csv"
    )
    files = sorted(path for path in (root / "reports").rglob("*") if path.is_file())
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in files}


def test_report_and_plots_are_byte_identical_for_identical_inputs(tmp_path):
    first, second = generate(tmp_path / "a"), generate(tmp_path / "b")
    assert sorted(first) == [
        "reports/BENCHMARKS.md",
        "reports/benchmarks.json",
        "reports/plots/cartpole.png",
        "reports/plots/fps.png",
        "reports/plots/hopper.png",
        "reports/plots/pendulum.png",
        "reports/plots/profile.png",
    ]
    for name in first:
        assert first[name] == second[name], f"{name} differs between identical inputs"


def test_benchmarks_json_is_the_rows_with_sorted_keys(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    markdown, data = write_report(suite, SUITE_PATH, root / "reports", root / "runs")
    document = json.loads(data.read_text())
    assert document["suite"] == SUITE_PATH
    assert document["rows"][0]["run"] == "sac-pendulum"
    assert data.read_text() == json.dumps(document, sort_keys=True, indent=2) + "\n"
    assert markdown == root / "reports" / "BENCHMARKS.md"
    assert len(parse_markdown_rows(markdown.read_text())) == len(document["rows"])


def test_write_report_links_runs_listed_in_hub_json(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    (root / "reports").mkdir()
    (root / "reports" / "hub.json").write_text(json.dumps({"crossq-cartpole": HUB_URL}))
    markdown, data = write_report(suite, SUITE_PATH, root / "reports", root / "runs")
    links = {row["run"]: row["link"] for row in json.loads(data.read_text())["rows"]}
    assert links["crossq-cartpole"] == HUB_URL
    assert links["crossq-hopper"] == "../runs/crossq-hopper"
    assert f"[runs/crossq-cartpole]({HUB_URL})" in markdown.read_text()


def test_malformed_hub_json_is_a_user_error(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    (root / "reports").mkdir()
    (root / "reports" / "hub.json").write_text('["not", "a", "mapping"]')
    with pytest.raises(RlpipeError, match=r"hub\.json should map run names to URLs"):
        write_report(suite, SUITE_PATH, root / "reports", root / "runs")


def test_links_are_relative_to_the_reports_folder(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    (root / "data").mkdir()
    shutil.move(root / "runs", root / "data" / "runs")
    rows = build_rows(suite, root / "data" / "runs", reports_dir=root / "reports")
    assert rows[0]["link"] == "../data/runs/sac-pendulum"
    assert rows[0]["status"] == "pass"


# --------------------------------------------------------------------------- frames to target


def test_frames_to_target_per_seed_is_the_first_logged_frame_at_or_above_the_target(project, suite):
    rows = rows_of(project, suite)
    # fixture rows at 250 (no return yet), 500, 750, 1000; seed K: offset + 100 * f + 10 * K
    # sac-pendulum: seed 0 -250, -225, -200 and seed 1 -240, -215, -190 vs target -200
    assert rows["sac-pendulum"]["frames_to_target_per_seed"] == [1000, 1000]
    # crossq-pendulum: seed 0 ends at -210 (never), seed 1 at -200 (at 1000)
    assert rows["crossq-pendulum"]["frames_to_target_per_seed"] == [None, 1000]
    assert rows["crossq-pendulum"]["frames_to_target"] == 1000.0
    assert format_cells(rows["crossq-pendulum"])["Frames to target"] == "1,000 (1/2)"
    # crossq-hopper ends at 100 and 110, far below 2000
    assert rows["crossq-hopper"]["frames_to_target"] is None
    assert format_cells(rows["crossq-hopper"])["Frames to target"] == "— (0/2)"
    assert format_cells(rows["sac-lunar"])["Frames to target"] == "—"  # missing run


@pytest.mark.parametrize(
    "target,per_seed,cell",
    [
        # logged at 1000 (none), 2000, 3000, 4000; seed K: 50/75/100 + 10K
        (70.0, [3000, 3000, 2000, 2000], "2,500 (4/4)"),
        (95.0, [4000, 4000, 3000, 3000], "3,500 (4/4)"),
        (105.0, [None, 4000, 4000, 3000], "3,667 (3/4)"),
        (131.0, [None, None, None, None], "— (0/4)"),
    ],
)
def test_frames_to_target_is_the_mean_over_the_seeds_that_reached_it(
    tmp_path, target, per_seed, cell
):
    make_suite_file(
        tmp_path / SUITE_PATH,
        envs={"hopper": ("Hopper-v5", "mujoco", target, 3_000_000)},
        runs=[("crossq", "hopper", 4000)],
        seeds=4,
    )
    make_run(tmp_path / "runs", "crossq-hopper", "crossq", "hopper", "Hopper-v5", 4, 4000)
    (row,) = build_rows(load_suite(tmp_path / SUITE_PATH), tmp_path / "runs")
    assert row["frames_to_target_per_seed"] == per_seed
    assert format_cells(row)["Frames to target"] == cell


def test_the_first_frame_counts_even_if_the_average_falls_back_below_later(tmp_path):
    from rlpipe.report.efficiency import frames_to_target
    from rlpipe.rundir import MetricsLog
    from tests.fixtures import FIXTURE_COLUMNS

    run_dir = tmp_path / "crossq-cartpole"
    rows = {0: ((100, None), (200, 120.0), (300, 90.0)), 1: ((300, 99.9), (100, 101.0))}
    for seed, logged in rows.items():
        with MetricsLog(run_dir / f"seed-{seed}" / "metrics.csv", FIXTURE_COLUMNS) as log:
            for frame, return_ma in logged:
                log.append({"frame": frame, "return_ma": return_ma})
    # seed 1 logged out of order: its first frame at or above 100 is 100, not 300
    assert frames_to_target(run_dir, [0, 1], 100.0) == [200, 100]


def test_a_seed_without_metrics_is_a_clear_error(tmp_path):
    root = tmp_path / "project"
    suite = build_project(root)
    (root / "runs" / "sac-pendulum" / "seed-1" / "metrics.csv").unlink()
    with pytest.raises(RlpipeError, match=r"no metrics file at .*sac-pendulum/seed-1/metrics.csv"):
        rows_of(root, suite)


# --------------------------------------------------------------------------- compute


@pytest.mark.parametrize(
    "cpu_core_s,gpu_s,cell",
    [
        (750.0, 0.0, "12.5 CPU core-min"),
        (0.0, 195.0, "3.2 GPU-min"),
        (90.0, 30.0, "1.5 CPU core-min + 0.5 GPU-min"),
        (0.0, 0.0, "0.0 CPU core-min"),
        (None, None, "—"),
    ],
)
def test_compute_cell_shows_cpu_core_minutes_or_gpu_minutes(cpu_core_s, gpu_s, cell):
    assert format_cells(full_row(cpu_core_s=cpu_core_s, gpu_s=gpu_s))["Compute"] == cell


def test_compute_comes_from_the_summary_and_the_suite_total_is_in_the_notes(tmp_path):
    root = tmp_path / "project"
    make_suite_file(root / SUITE_PATH)
    runs = root / "runs"
    # seed K runs 30,000 frames at 500 + 100K frames/s: 60 s and 50 s of wall time
    make_run(runs, "sac-pendulum", "sac", "pendulum", "Pendulum-v1", frames=30_000,
             torch_threads=2)  # fmt: skip
    make_run(runs, "crossq-hopper", "crossq", "hopper", "Hopper-v5", frames=30_000,
             device="cuda:0", torch_threads=1)  # fmt: skip
    make_run(runs, "crossq-cartpole", "crossq", "cartpole", "CartPole-v1")  # no compute recorded
    suite = load_suite(root / SUITE_PATH)
    rows = {row["run"]: row for row in build_rows(suite, runs)}
    assert rows["sac-pendulum"]["cpu_core_s"] == pytest.approx(2 * (60 + 50))
    assert format_cells(rows["sac-pendulum"])["Compute"] == "3.7 CPU core-min"  # 220 / 60
    assert format_cells(rows["crossq-hopper"])["Compute"] == "1.8 GPU-min"  # 110 / 60
    assert format_cells(rows["crossq-cartpole"])["Compute"] == "—"
    text = render_markdown(list(rows.values()), suite, SUITE_PATH)
    assert (
        "**The suite's runs used 3.7 CPU core-minutes and 1.8 GPU-minutes in all.** Not counted "
        "(their summaries predate compute accounting): crossq-cartpole." in text
    )


# --------------------------------------------------------------------------- notes


def test_notes_define_score_beside_slm_lab_evaluation_and_frames_to_target(project, suite):
    text = render_markdown(list(rows_of(project, suite).values()), suite, SUITE_PATH)
    notes = text[text.index("## Notes") :]
    assert "moving average of the last `meta.return_window` (100 by default)" in notes
    assert "`total_reward_ma`: the moving average over its last 100 checkpoints" in notes
    assert "deterministic policy" in notes and "`meta.eval_episodes`" in notes
    assert "fixed seeds" in notes
    assert "first logged frame" in notes and '"— (0/4)": none' in notes
    assert "**Compute**" in notes


# --------------------------------------------------------------------------- audit


def audited_project(root: Path) -> AuditPaths:
    """A fixture project with compute and random scores, plotted and reported; its paths."""
    suite = build_project(root)
    make_run(root / "runs", "sac-pendulum", "sac", "pendulum", "Pendulum-v1",
             score_offset=-300.0, torch_threads=2)  # fmt: skip
    (root / "references" / "random_scores.csv").write_text(
        "env,random_score\nCartPole-v1,20\nPendulum-v1,-1200\nHopper-v5,-20\n"
    )
    paths = AuditPaths(
        suite=root / SUITE_PATH,
        reports=root / "reports",
        runs=root / "runs",
        pipelines=root / "pipelines",
        root=root,
        random_scores=root / "references" / "random_scores.csv",
    )
    plot_suite(suite, paths.runs, paths.reports / "plots", paths.random_scores)
    write_report(suite, SUITE_PATH, paths.reports, paths.runs, random_scores=paths.random_scores)
    return paths


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> AuditPaths:
    return audited_project(tmp_path_factory.mktemp("audit") / "project")


@pytest.fixture
def tampered(audited) -> AuditPaths:
    """The audited project; the report is restored after the test."""
    report = audited.reports / "BENCHMARKS.md"
    written = report.read_text()
    yield audited
    report.write_text(written)


def number_mismatches(paths: AuditPaths) -> list[tuple[str, str]]:
    findings = audit(load_suite(paths.suite), paths)
    return [(f.row, f.message) for f in findings if f.check == "number-mismatch"]


def edit_report(paths: AuditPaths, old: str, new: str) -> None:
    report = paths.reports / "BENCHMARKS.md"
    text = report.read_text()
    assert old in text, old
    report.write_text(text.replace(old, new, 1))


def test_audit_finds_no_number_mismatch_in_a_report_it_wrote(audited):
    text = (audited.reports / "BENCHMARKS.md").read_text()
    assert "## Aggregate" in text and "1,000 (2/2)" in text and "CPU core-min" in text
    assert number_mismatches(audited) == []


@pytest.mark.parametrize(
    "old,new,row,column",
    [
        ("| 1,000 (2/2) |", "| 900 (2/2) |", "sac-pendulum", "Frames to target"),
        ("| — (0/2) |", "| 1,500 (1/2) |", "crossq-hopper", "Frames to target"),
        (" CPU core-min |", "0 CPU core-min |", "sac-pendulum", "Compute"),
        ("| SAC | 1 | 2 | ", "| SAC | 1 | 3 | ", "aggregate SAC", "Runs"),
        ("| CrossQ | 3 | 6 | 0.", "| CrossQ | 3 | 6 | 9.", "aggregate CrossQ", "IQM"),
        ("CPU core-minutes and", "CPU core-minutes (rounded) and", "notes", "Notes line"),
        ("| 1/2 | +25.0 |", "| 2/2 | +25.0 |", "below-target", "Below target line"),
    ],
)
def test_audit_reports_a_tampered_new_cell_as_a_number_mismatch(tampered, old, new, row, column):
    edit_report(tampered, old, new)
    ((found_row, message),) = number_mismatches(tampered)
    assert found_row == row and message.startswith(column)


def test_audit_reports_an_aggregate_row_removed_from_the_report(tampered):
    text = (tampered.reports / "BENCHMARKS.md").read_text()
    line = next(line for line in text.splitlines() if line.startswith("| SAC | 1 | 2 |"))
    edit_report(tampered, line + "\n", "")
    assert number_mismatches(tampered) == [("aggregate SAC", "row missing from the report")]


def test_a_suite_whose_runs_all_predate_compute_accounting_says_so(project, suite):
    text = render_markdown(list(rows_of(project, suite).values()), suite, SUITE_PATH)
    assert "**No run of the suite recorded its compute** (all summaries predate it)." in text
    assert "CPU core-minutes and" not in text


def test_a_suite_entry_removed_is_a_suite_mismatch_not_also_an_aggregate_mismatch(audited):
    suite_file = audited.suite
    written = suite_file.read_text()
    entry = "  sac-pendulum: {family: sac, spec: pendulum, frames: 1000}\n"
    assert entry in written
    try:
        suite_file.write_text(written.replace(entry, ""))
        findings = audit(load_suite(suite_file), audited)
        assert {f.check for f in findings} >= {"suite-mismatch"}
        assert [f for f in findings if f.check == "number-mismatch"] == []
    finally:
        suite_file.write_text(written)


def test_frame_budget_line_names_the_peer_that_trained_a_parity_row(tmp_path):
    path = make_suite_file(tmp_path / "suite.yaml", runs=[("ppo", "hopper", 1000)])
    path.write_text(
        path.read_text()
        + "  ppo-hopper-sb3: {family: ppo, spec: hopper, frames: 1000, peer: sb3}\n"
    )
    text = render_markdown([], load_suite(path), SUITE_PATH)
    assert "trained for PPO 1,000, PPO (sb3 peer) 1,000 frames per seed" in text
