"""Where `rlpipe eval` may write: a run folder's own records and weights never, an existing file
only if it is an evaluation rlpipe eval wrote (rlpipe/eval_output.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.eval_output import check_eval_output, not_an_evaluation, run_file_role
from rlpipe.rundir import RunFolder
from tests.fixtures import make_run

EVALUATION = {
    "spec_hash": "ab" * 32,
    "episodes_per_seed": 10,
    "return_mean": -150.0,
    "per_seed": [{"seed": 0, "return_mean": -140.0}, {"seed": 1, "return_mean": -160.0}],
}


@pytest.fixture
def run(tmp_path) -> RunFolder:
    """A finished fixture run of 2 seeds, weights kept in a separate artifacts folder."""
    path = make_run(tmp_path / "runs", "sac-pendulum", "sac", "pendulum", "Pendulum-v1")
    return RunFolder(path, tmp_path / "artifacts" / "sac-pendulum")


@pytest.mark.parametrize(
    ("relative", "role"),
    [
        ("spec.json", "the resolved spec"),
        ("provenance.json", "the provenance record"),
        ("summary.json", "the summary (the run's score)"),
        ("seed-1/metrics.csv", "seed 1's training metrics"),
        ("seed-0/result.json", "seed 0's final result"),
        ("seed-3/model.pt", "seed 3's final weights"),
        ("groups/seeds-0-1.json", "a seed group's record"),
    ],
)
def test_a_run_folders_own_files_are_named_even_before_they_exist(run, relative, role):
    assert run_file_role(run.path / relative, run) == (role, run.path)


@pytest.mark.parametrize(
    ("relative", "role"),
    [
        ("seed-0/model.pt", "seed 0's final weights"),
        ("seed-1/checkpoint/state.pt", "seed 1's resume checkpoint"),
    ],
)
def test_weights_in_the_artifacts_folder_are_the_runs_own_files(run, relative, role):
    assert run_file_role(run.artifacts / relative, run) == (role, run.path)


def test_another_run_folders_files_are_named_too(run, tmp_path):
    other = make_run(tmp_path / "runs", "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1")
    assert run_file_role(other / "seed-0" / "result.json", run) == (
        "seed 0's final result",
        other.absolute(),
    )


def test_eval_files_and_other_names_are_no_run_file(run, tmp_path):
    assert run_file_role(run.eval_file, run) is None
    assert run_file_role(tmp_path / "evals" / "sac-pendulum.json", run) is None
    assert run_file_role(run.path / "seed-0" / "notes.json", run) is None


def test_an_evaluation_file_is_recognised_by_its_exact_keys(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(EVALUATION))
    assert not_an_evaluation(path) is None
    path.write_text(json.dumps({**EVALUATION, "score": 1.0}))
    assert "its keys are" in not_an_evaluation(path)
    path.write_text(json.dumps({**EVALUATION, "per_seed": [{"seed": 0}]}))
    assert "'per_seed' is not a list" in not_an_evaluation(path)
    path.write_text("[1, 2]")
    assert not_an_evaluation(path) == "not a JSON object"
    path.write_bytes(b"\x80\x02weights")
    assert not_an_evaluation(path) == "not a JSON file"
    assert not_an_evaluation(tmp_path) == "it is a folder"


def test_a_summary_is_not_an_evaluation(run):
    assert "its keys are" in not_an_evaluation(run.summary_file)


def test_check_refuses_a_run_file_and_says_what_it_is_and_what_to_do(run):
    with pytest.raises(RlpipeError) as error:
        check_eval_output(run, run.summary_file)
    message = str(error.value)
    assert f"{run.summary_file} is the summary (the run's score) of the run folder" in message
    assert "nothing was evaluated" in message and "give --output a file of its own" in message


def test_check_refuses_an_existing_file_that_is_not_an_evaluation(run, tmp_path):
    notes = tmp_path / "notes.json"
    notes.write_text('{"todo": "retrain"}')
    with pytest.raises(RlpipeError, match="exists and is not an evaluation written by rlpipe eval"):
        check_eval_output(run, notes)
    assert notes.read_text() == '{"todo": "retrain"}'


def test_check_accepts_a_new_file_and_an_earlier_evaluation(run, tmp_path):
    check_eval_output(run, tmp_path / "evals" / "new.json")
    earlier = tmp_path / "evals" / "earlier.json"
    earlier.parent.mkdir()
    earlier.write_text(json.dumps(EVALUATION))
    check_eval_output(run, earlier)
    check_eval_output(run, run.eval_file)


def test_every_committed_evaluation_can_be_overwritten():
    evals = sorted((Path(__file__).resolve().parents[2] / "evals").rglob("*.json"))
    assert [path for path in evals if not_an_evaluation(path) is not None] == []
