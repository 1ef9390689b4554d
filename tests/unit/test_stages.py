"""The suite as DVC stages: seed groups, generated dvc.yaml, and the committed one up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlpipe.errors import RlpipeError
from rlpipe.spec import load_suite
from rlpipe.stages import (
    BOOKKEEPING,
    FINGERPRINT_CODE,
    GROUP_EVAL_CODE,
    TRAIN_ROOTS,
    agent_module,
    code_deps,
    render_dvc_yaml,
    seed_groups,
    train_stages,
)
from tests.conftest import FIXTURE_PIPELINES, REPO
from tests.fixtures import make_suite_file

PIPELINES = FIXTURE_PIPELINES
"""Suites here are made up for the tests: their runs read the fixture pipelines."""


@pytest.mark.parametrize(
    "seeds,groups,expected",
    [
        ([0, 1, 2, 3], 2, [(0, 1), (2, 3)]),
        ([0, 1, 2, 3], 1, [(0, 1, 2, 3)]),
        ([0, 1, 2, 3, 4], 2, [(0, 1, 2), (3, 4)]),
        ([5, 6, 7], 3, [(5,), (6,), (7,)]),
    ],
)
def test_seed_groups_are_contiguous_and_as_even_as_possible(seeds, groups, expected):
    assert seed_groups(seeds, groups) == expected


def test_more_groups_than_seeds_is_an_error():
    with pytest.raises(RlpipeError, match="cannot split 2 seeds into 3"):
        seed_groups([0, 1], 3)


def test_a_split_run_gets_one_train_stage_per_group_and_a_summarize_stage(tmp_path):
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000)], seeds=4)
    suite_path.write_text(
        suite_path.read_text().replace("frames: 1000}", "frames: 1000, seed_groups: 2}")
    )
    suite = load_suite(suite_path)
    stages = train_stages(suite, PIPELINES)
    assert [(s.name, s.seeds) for s in stages] == [
        ("train-sac-pendulum-seeds-0-1", (0, 1)),
        ("train-sac-pendulum-seeds-2-3", (2, 3)),
    ]
    dvc = yaml.safe_load(render_dvc_yaml(suite, suite_path, PIPELINES))["stages"]
    group = dvc["train-sac-pendulum-seeds-2-3"]
    assert group["cmd"].endswith("--only-seeds 2,3")
    assert group["deps"] == ["fingerprints/train-sac.json"]
    own = [FINGERPRINT_CODE, *code_deps(*TRAIN_ROOTS, "rlpipe.algos.sac")]
    assert dvc["code-train-sac"]["deps"] == own
    assert dvc["code-train-sac"]["outs"] == [{"fingerprints/train-sac.json": {"cache": False}}]
    assert dvc["code-train-sac"]["cmd"] == (
        "rlpipe suite fingerprint --out fingerprints/train-sac.json " + " ".join(own[1:])
    )
    assert group["params"] == [{"pipelines/sac.yaml": ["vars", "defaults", "specs.pendulum"]}]
    assert {"runs/sac-pendulum/seed-2": {"cache": False}} in group["outs"]
    assert "artifacts/sac-pendulum/seed-3" in group["outs"]
    assert dvc["summarize-sac-pendulum"]["cmd"] == "rlpipe summarize runs/sac-pendulum"
    assert list(dvc)[-2:] == ["plot", "report"]


@pytest.mark.parametrize("name", ["crossq", "sac", "ppo", "a2c", "dqn"])
def test_train_stages_do_not_depend_on_report_audit_hub_cli_or_bench_code(name):
    for path in code_deps(*TRAIN_ROOTS, agent_module(name)):
        assert not path.startswith(("rlpipe/report", "rlpipe/hub", "rlpipe/cli", "rlpipe/bench"))
        assert (REPO / path).is_file(), path


def test_each_algorithm_depends_on_its_own_module_and_on_no_other_algorithms():
    own = {"crossq": {"crossq", "sac"}, "sac": {"sac"}, "ppo": {"ppo"}, "a2c": {"a2c", "ppo"},
           "dqn": {"dqn"}}  # fmt: skip
    for name, modules in own.items():
        deps = code_deps(*TRAIN_ROOTS, agent_module(name))
        algos = {Path(p).stem for p in deps if Path(p).parent.as_posix() == "rlpipe/algos"}
        assert algos - {"base", "registry", "normalize", "__init__"} == modules, name
        assert {"rlpipe/loops/seedloop.py", "rlpipe/spec/schema.py", "rlpipe/envs.py"} <= set(deps)


def test_bookkeeping_modules_exist_and_are_left_out():
    deps = code_deps(*TRAIN_ROOTS, agent_module("crossq"))
    for path in BOOKKEEPING:
        assert (REPO / path).is_file(), path
        assert path not in deps


# The committed dvc.yaml against params/suite.yaml and the real pipelines is a repo-data test:
# test_real_pipelines_the_committed_dvc_yaml_is_the_suites in test_repo_pipelines.py.


def test_replay_stages_only_when_the_suite_sets_replays(tmp_path):
    runs = [("sac", "pendulum", 1000), ("crossq", "cartpole", 1000)]
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=runs)
    without = yaml.safe_load(render_dvc_yaml(load_suite(suite_path), suite_path, PIPELINES))[
        "stages"
    ]
    assert not [name for name in without if name.startswith("replay-")]
    assert "reports/replays" not in without["report"]["deps"]

    suite_path.write_text(suite_path.read_text() + "replays: true\n")
    stages = yaml.safe_load(render_dvc_yaml(load_suite(suite_path), suite_path, PIPELINES))[
        "stages"
    ]
    assert [name for name in stages if name.startswith("replay-")] == [
        "replay-sac-pendulum",
        "replay-crossq-cartpole",
    ]
    replay, evaluation = stages["replay-sac-pendulum"], stages["eval-sac-pendulum"]
    assert replay["cmd"] == (
        "rlpipe enjoy runs/sac-pendulum --artifacts artifacts/sac-pendulum "
        "--video reports/replays/sac-pendulum.gif --max-steps 300"
    )
    # The run folder and weights exactly as the eval stage has them (--allow-missing skips both).
    assert [d for d in replay["deps"] if not d.startswith("rlpipe/")] == [
        d for d in evaluation["deps"] if not d.startswith("fingerprints/")
    ]
    assert {"rlpipe/watch/enjoy.py", "rlpipe/watch/video.py", "rlpipe/algos/sac.py"} <= set(
        replay["deps"]
    )
    assert replay["outs"] == [{"reports/replays/sac-pendulum.gif": {"cache": False}}]
    assert {"reports/replays", "rlpipe/report/replays.py"} <= set(stages["report"]["deps"])
    assert not any("replay" in dep for dep in stages["train-sac-pendulum"]["deps"])


def test_a_run_with_stage_frames_is_a_chain_of_stages_each_resuming_the_last(tmp_path):
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000)], seeds=4)
    suite_path.write_text(
        suite_path.read_text().replace(
            "frames: 1000}", "frames: 1000, seed_groups: 2, stage_frames: 400}"
        )
    )
    suite = load_suite(suite_path)
    stages = train_stages(suite, PIPELINES)
    assert [(s.name, s.seeds, s.until) for s in stages] == [
        ("train-sac-pendulum-seeds-0-1-part-1", (0, 1), 400),
        ("train-sac-pendulum-seeds-0-1-part-2", (0, 1), 800),
        ("train-sac-pendulum-seeds-0-1", (0, 1), None),
        ("train-sac-pendulum-seeds-2-3-part-1", (2, 3), 400),
        ("train-sac-pendulum-seeds-2-3-part-2", (2, 3), 800),
        ("train-sac-pendulum-seeds-2-3", (2, 3), None),
    ]
    dvc = yaml.safe_load(render_dvc_yaml(suite, suite_path, PIPELINES))["stages"]
    first, second = (
        dvc["train-sac-pendulum-seeds-2-3-part-1"],
        dvc["train-sac-pendulum-seeds-2-3-part-2"],
    )
    assert first["cmd"].endswith(
        "--out parts/sac-pendulum/seeds-2-3/part-1 --overwrite --quiet --until-frame 400 "
        "--only-seeds 2,3"
    )
    assert "--resume-from" not in first["cmd"]
    assert first["outs"] == ["parts/sac-pendulum/seeds-2-3/part-1"]  # cached: checkpoints
    assert "--resume-from parts/sac-pendulum/seeds-2-3/part-1 " in second["cmd"]
    assert second["deps"][-1] == "parts/sac-pendulum/seeds-2-3/part-1"
    last = dvc["train-sac-pendulum-seeds-2-3"]
    assert (
        "--resume-from parts/sac-pendulum/seeds-2-3/part-2 --out runs/sac-pendulum" in last["cmd"]
    )
    assert last["cmd"].endswith("--only-seeds 2,3") and "--until-frame" not in last["cmd"]
    assert {"runs/sac-pendulum/seed-2": {"cache": False}} in last["outs"]
    assert first["params"] == last["params"] and first["deps"] == last["deps"][:-1]
    summarize = dvc["summarize-sac-pendulum"]["deps"]
    assert not any(dep.startswith("parts/") for dep in summarize)


def test_a_run_evaluated_per_group_gets_an_eval_stage_per_group_and_a_merge(tmp_path):
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000)], seeds=4)
    suite_path.write_text(
        suite_path.read_text().replace(
            "frames: 1000}", "frames: 1000, seed_groups: 2, eval_per_group: true}"
        )
    )
    dvc = yaml.safe_load(render_dvc_yaml(load_suite(suite_path), suite_path, PIPELINES))["stages"]
    group = dvc["eval-sac-pendulum-seeds-2-3"]
    assert group["cmd"] == (
        "rlpipe eval runs/sac-pendulum --artifacts artifacts/sac-pendulum --only-seeds 2,3 "
        "--output evals/sac-pendulum/seeds-2-3.json"
    )
    # only this group's folders and weights: the other group's may be on another machine
    assert group["deps"] == [
        "fingerprints/eval-sac.json", GROUP_EVAL_CODE,
        "runs/sac-pendulum/seed-2", "runs/sac-pendulum/seed-3",
        "runs/sac-pendulum/groups/seeds-2-3.json",
        "artifacts/sac-pendulum/seed-2", "artifacts/sac-pendulum/seed-3",
    ]  # fmt: skip
    assert group["outs"] == [{"evals/sac-pendulum/seeds-2-3.json": {"cache": False}}]
    merge = dvc["eval-sac-pendulum"]
    assert merge["cmd"] == (
        "rlpipe eval runs/sac-pendulum --merge evals/sac-pendulum/seeds-0-1.json "
        "--merge evals/sac-pendulum/seeds-2-3.json --output evals/sac-pendulum.json"
    )
    assert merge["deps"] == [
        GROUP_EVAL_CODE, "runs/sac-pendulum/spec.json",
        "evals/sac-pendulum/seeds-0-1.json", "evals/sac-pendulum/seeds-2-3.json",
    ]  # fmt: skip
    assert not any(dep.startswith("artifacts/") for dep in merge["deps"])


def test_eval_per_group_needs_seed_groups(tmp_path):
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000)])
    text = suite_path.read_text().replace("frames: 1000}", "frames: 1000, eval_per_group: true}")
    suite_path.write_text(text)
    with pytest.raises(RlpipeError, match="eval_per_group evaluates seed groups; set seed_groups"):
        load_suite(suite_path)
    suite_path.write_text(
        text.replace("eval_per_group: true}", "seed_groups: 2, eval_per_group: true}")
        + "replays: true\n"
    )
    with pytest.raises(RlpipeError, match=r"a replay GIF .* needs the run's weights on one"):
        load_suite(suite_path)


@pytest.mark.parametrize(
    "entry,message",
    [
        ("frames: 1000, stage_frames: 1000}", "stage_frames 1000 must be below frames 1000"),
        ("frames: 1000, stage_frames: 400, peer: sb3}", "a peer run trains in one stage"),
    ],
)
def test_stage_frames_must_split_an_own_run(tmp_path, entry, message):
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000)])
    text = suite_path.read_text().replace("frames: 1000}", entry)
    suite_path.write_text(
        text.replace("sac-pendulum:", "sac-pendulum-sb3:") if "peer" in entry else text
    )
    with pytest.raises(RlpipeError, match=message):
        load_suite(suite_path)


def test_a_row_trained_off_its_specs_schedule_is_refused_unless_the_suite_says_so(tmp_path):
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=[("dqn", "cartpole", 40000)])
    with pytest.raises(RlpipeError) as error:
        render_dvc_yaml(load_suite(suite_path), suite_path, PIPELINES)
    message = str(error.value)
    assert "runs.dqn-cartpole: trains 40,000 frames" in message
    assert "tuned for schedule_frames 10,000" in message
    assert "epsilon decays linearly to epsilon_end at frame 2,000" in message
    assert "'off_schedule: true'" in message
    suite_path.write_text(
        suite_path.read_text().replace("frames: 40000}", "frames: 40000, off_schedule: true}")
    )
    dvc = yaml.safe_load(render_dvc_yaml(load_suite(suite_path), suite_path, PIPELINES))
    command = dvc["stages"]["train-dqn-cartpole"]["cmd"]
    assert "-s env.max_frame=40000 " in command  # the run's length, not the schedule's var


def test_a_row_at_its_schedules_frames_or_without_schedules_needs_no_flag(tmp_path):
    runs = [("dqn", "cartpole", 10000), ("crossq", "pendulum", 1000), ("ppo", "pendulum", 4096)]
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=runs)
    stages = yaml.safe_load(render_dvc_yaml(load_suite(suite_path), suite_path, PIPELINES))
    assert {"train-dqn-cartpole", "train-crossq-pendulum", "train-ppo-pendulum"} <= set(
        stages["stages"]
    )


@pytest.mark.parametrize(
    "line,field",
    [
        ('device: "cpu; touch MARK #"', "device"),
        ('device: "x$(touch MARK)"', "device"),
        ('hub_repo: "a/b c"', "hub_repo"),
    ],
)
def test_suite_values_that_reach_a_command_are_checked(tmp_path, line, field):
    path = make_suite_file(tmp_path / "suite.yaml")
    key = line.split(":")[0]
    text = "\n".join(
        line if row.startswith(f"{key}:") else row for row in path.read_text().splitlines()
    )
    path.write_text(text + "\n")
    with pytest.raises(RlpipeError, match=rf"suite.yaml: {field}: String should match pattern"):
        load_suite(path)


@pytest.mark.parametrize(
    "entry",
    [
        "  x/../../NAME: {family: sac, spec: pendulum, frames: 1000}",
        '  sac-pendulum: {family: "sac\'", spec: pendulum, frames: 1000}',
        "  ppo$(touch MARK)-pendulum: {family: ppo$(touch MARK), spec: pendulum, frames: 1000}",
    ],
)
def test_run_keys_and_names_with_paths_or_shell_characters_are_refused(tmp_path, entry):
    path = make_suite_file(tmp_path / "suite.yaml", runs=[])
    path.write_text(path.read_text() + entry + "\n")  # runs: is the last key
    with pytest.raises(RlpipeError, match="use letters, digits, '-' and '_' only"):
        load_suite(path)


def test_generated_commands_quote_what_they_interpolate(tmp_path):
    path = make_suite_file(tmp_path / "my suite.yaml", runs=[("sac", "pendulum", 1000)])
    stages = yaml.safe_load(render_dvc_yaml(load_suite(path), path, PIPELINES))["stages"]
    assert stages["plot"]["cmd"] == f"rlpipe plot --suite '{path.as_posix()}'"
    assert stages["train-sac-pendulum"]["cmd"].startswith(
        "rlpipe train sac pendulum -s env.max_frame=1000 -s meta.seeds=2 --device cpu "
    )


@pytest.mark.parametrize(
    "before,after,message",
    [
        (
            "frames: 1000}",
            "frams: 1000}",
            "runs.sac-pendulum.frams: unknown key; did you mean 'frames'? valid keys: "
            "eval_per_group, family, frames",
        ),
        ("seeds:", "seedz:", "seedz: unknown key; did you mean 'seeds'?"),
        ("target:", "targt:", "envs.hopper.targt: unknown key; did you mean 'target'?"),
    ],
)
def test_a_suite_typo_names_the_key_and_the_closest_valid_one(tmp_path, before, after, message):
    suite_path = make_suite_file(tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000)])
    suite_path.write_text(suite_path.read_text().replace(before, after, 1))
    with pytest.raises(RlpipeError) as error:
        load_suite(suite_path)
    assert message in str(error.value)


def test_a_runs_resolved_spec_is_read_again_once_its_pipeline_file_changes(tmp_path):
    import shutil

    from rlpipe.stages import resolved_run

    pipelines = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, pipelines)
    suite = load_suite(make_suite_file(tmp_path / "suite.yaml", runs=[("sac", "pendulum", 1000)]))
    first = resolved_run(suite, "sac-pendulum", pipelines)
    assert resolved_run(suite, "sac-pendulum", pipelines) is first  # kept while unchanged
    assert first.spec.meta.seed_list == [0, 1]

    sac = pipelines / "sac.yaml"
    sac.write_text(sac.read_text().replace("  meta:\n", "  meta:\n    base_seed: 10\n", 1))
    assert resolved_run(suite, "sac-pendulum", pipelines).spec.meta.seed_list == [10, 11]
    sac.unlink()
    with pytest.raises(RlpipeError, match="unknown family 'sac'"):
        resolved_run(suite, "sac-pendulum", pipelines)
