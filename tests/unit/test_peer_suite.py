"""Parity rows in the suite: the peer field and key rule, the peer's DVC stages, and the report's
row labelled with the peer library and its version."""

from __future__ import annotations

import json
import typing

import pytest
import yaml

from rlpipe.errors import RlpipeError
from rlpipe.peers import PEERS
from rlpipe.peers.mirror import version_pins
from rlpipe.report.benchmarks import build_rows, parse_markdown_rows, render_markdown
from rlpipe.spec import load_suite, resolve_spec
from rlpipe.spec.suite import SuiteRun
from rlpipe.stages import (
    EVAL_ROOTS,
    FINGERPRINT_CODE,
    PEER_POLICY,
    PEER_ROOTS,
    TRAIN_ROOTS,
    code_deps,
    render_dvc_yaml,
)
from tests.conftest import FIXTURE_PIPELINES, REPO
from tests.fixtures import make_run

pytest.importorskip("sb3_contrib")

PIPELINES = FIXTURE_PIPELINES
"""The suites here are made up for the tests: their runs read the fixture pipelines."""


def write_suite(path, runs: str, seeds: int = 2):
    path.write_text(
        "hub_repo: rlpipe/fixture\n"
        f"seeds: {seeds}\n"
        "device: cpu\n"
        "envs:\n"
        "  pendulum: {id: Pendulum-v1, category: classic, target: -200, budget: 300000}\n"
        "  cartpole: {id: CartPole-v1, category: classic, target: 400, budget: 200000}\n"
        f"runs:\n{runs}"
    )
    return path


PARITY = (
    "  crossq-pendulum: {family: crossq, spec: pendulum, frames: 1000}\n"
    "  crossq-pendulum-sb3: {family: crossq, spec: pendulum, frames: 1000, peer: sb3}\n"
)


def test_a_peer_entry_is_keyed_family_spec_peer(tmp_path):
    suite = load_suite(write_suite(tmp_path / "suite.yaml", PARITY))
    assert suite.runs["crossq-pendulum-sb3"].peer == "sb3"
    assert suite.runs["crossq-pendulum"].peer is None
    wrong = "  crossq-pendulum: {family: crossq, spec: pendulum, frames: 1000, peer: sb3}\n"
    with pytest.raises(RlpipeError, match="the key must be 'crossq-pendulum-sb3'"):
        load_suite(write_suite(tmp_path / "wrong.yaml", wrong))
    unknown = "  crossq-pendulum-sb4: {family: crossq, spec: pendulum, frames: 1000, peer: sb4}\n"
    with pytest.raises(RlpipeError, match=r"runs\.crossq-pendulum-sb4\.peer"):
        load_suite(write_suite(tmp_path / "unknown.yaml", unknown))


def test_the_suite_knows_exactly_the_peers_rlpipe_trains():
    allowed = typing.get_args(SuiteRun.model_fields["peer"].annotation)
    assert {a for arg in allowed for a in typing.get_args(arg)} == set(PEERS)


def test_a_peer_stage_trains_the_twin_with_the_installed_versions_in_its_command(tmp_path):
    path = write_suite(tmp_path / "suite.yaml", PARITY)
    stages = yaml.safe_load(render_dvc_yaml(load_suite(path), path, PIPELINES))["stages"]
    spec = resolve_spec("crossq", "pendulum", ["max_frame=1000", "meta.seeds=2"], PIPELINES).spec
    pins = " ".join(f"--peer-version {pin}" for pin in version_pins(spec))
    assert "--peer-version sb3-contrib==" in pins and "--peer-version stable-baselines3==" in pins
    peer = stages["train-crossq-pendulum-sb3"]
    assert peer["cmd"] == (
        "rlpipe train crossq pendulum -s env.max_frame=1000 -s meta.seeds=2 --device cpu --peer sb3 "
        f"{pins} --out runs/crossq-pendulum-sb3 --artifacts artifacts/crossq-pendulum-sb3 "
        "--overwrite --quiet"
    )
    assert peer["deps"] == ["fingerprints/train-sb3.json"]
    assert stages["code-train-sb3"]["deps"] == [FINGERPRINT_CODE, *code_deps(*PEER_ROOTS)]
    assert peer["params"] == stages["train-crossq-pendulum"]["params"]
    assert stages["train-crossq-pendulum"]["deps"] == ["fingerprints/train-crossq.json"]
    own = code_deps(*TRAIN_ROOTS, "rlpipe.algos.crossq")
    assert stages["code-train-crossq"]["deps"] == [FINGERPRINT_CODE, *own]
    assert "--peer" not in stages["train-crossq-pendulum"]["cmd"]
    evaluation = stages["eval-crossq-pendulum-sb3"]
    # The one evaluator and the twin's loader (imported by name for a parity run).
    evaluator = code_deps(*EVAL_ROOTS, PEER_POLICY)
    assert evaluation["deps"][0] == "fingerprints/eval-sb3.json"
    assert stages["code-eval-sb3"]["deps"] == [FINGERPRINT_CODE, *evaluator]
    assert "rlpipe/peers/evaluate.py" in evaluator
    assert "rlpipe/peers/evaluate.py" not in stages["code-train-sb3"]["deps"]


def test_a_peer_entry_split_into_seed_groups_gets_a_stage_per_group(tmp_path):
    runs = "  sac-pendulum-sb3: {family: sac, spec: pendulum, frames: 1000, peer: sb3, seed_groups: 2}\n"
    path = write_suite(tmp_path / "suite.yaml", runs, seeds=4)
    stages = yaml.safe_load(render_dvc_yaml(load_suite(path), path, PIPELINES))["stages"]
    group = stages["train-sac-pendulum-sb3-seeds-2-3"]
    assert " --peer sb3 --peer-version stable-baselines3==" in group["cmd"]
    assert group["cmd"].endswith("--only-seeds 2,3")
    assert group["deps"] == ["fingerprints/train-sb3.json"]
    assert "summarize-sac-pendulum-sb3" in stages


def test_peer_stages_depend_on_the_twin_not_on_rlpipes_agents():
    peer = code_deps(*PEER_ROOTS)
    for path in peer:
        assert (REPO / path).is_file(), path
        assert not path.startswith(("rlpipe/report", "rlpipe/hub", "rlpipe/cli", "rlpipe/bench"))
    agents = {f"rlpipe/algos/{name}.py" for name in ("crossq", "sac", "ppo", "a2c", "dqn")}
    assert not agents & set(peer)
    assert {"rlpipe/peers/sb3.py", "rlpipe/peers/train.py"} <= set(peer)
    assert not any(path.startswith("rlpipe/peers") for path in code_deps(*TRAIN_ROOTS))


def test_a_peer_entry_whose_spec_cannot_be_mirrored_stops_the_stage_generation(tmp_path):
    runs = "  sac-cartpole-sb3: {family: sac, spec: cartpole, frames: 1000, peer: sb3}\n"
    path = write_suite(tmp_path / "suite.yaml", runs)
    with pytest.raises(RlpipeError, match=r"runs.sac-cartpole-sb3: peer sb3 cannot mirror the spec: env.id CartPole-v1 has discrete actions"):  # fmt: skip
        render_dvc_yaml(load_suite(path), path, PIPELINES)


def test_a_parity_row_is_labelled_with_the_peer_library_and_version(tmp_path):
    runs = PARITY + "  sac-pendulum-sb3: {family: sac, spec: pendulum, frames: 1000, peer: sb3}\n"
    path = write_suite(tmp_path / "suite.yaml", runs)
    root = tmp_path / "runs"
    make_run(root, "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1")
    peer_run = make_run(root, "crossq-pendulum-sb3", "crossq", "pendulum", "Pendulum-v1")
    provenance = json.loads((peer_run / "provenance.json").read_text())
    provenance["peer"] = {"name": "sb3", "library": "sb3-contrib", "version": "2.9.2"}
    (peer_run / "provenance.json").write_text(json.dumps(provenance))
    suite = load_suite(path)
    rows = build_rows(suite, root, references=tmp_path / "none.csv", reports_dir=tmp_path)
    cells = parse_markdown_rows(render_markdown(rows, suite, path))
    assert [(c["Run"].split("]")[0], c["Algorithm"]) for c in cells] == [
        ("[runs/crossq-pendulum", "CrossQ"),
        ("[runs/crossq-pendulum-sb3", "CrossQ (sb3-contrib 2.9.2)"),
        ("[runs/sac-pendulum-sb3", "SAC (sb3)"),  # not trained yet: the peer's name only
    ]
    assert [row["status"] for row in rows] == ["pass", "pass", "missing run"]
