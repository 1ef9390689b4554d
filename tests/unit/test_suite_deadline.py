"""`rlpipe suite run --time-limit`: a stage starts only if, at its expected pace, it ends in time."""

from __future__ import annotations

import json

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.scale import CommandResult, Resources
from rlpipe.suite_deadline import Deadline, StageShape, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h30m", 9000.0), ("90m", 5400.0), ("1.5h", 5400.0), ("45s", 45.0), (" 1h5m10s ", 3910.0)],
)
def test_a_duration_reads_as_hours_minutes_and_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("90", "--time-limit '90': not a duration; write it as 2h30m, 90m, 1.5h or 45s"),
        ("", "--time-limit '': not a duration"),
        ("30m2h", "--time-limit '30m2h': not a duration"),
        ("2 hours", "--time-limit '2 hours': not a duration"),
        ("0m", "--time-limit '0m': must be longer than zero"),
    ],
)
def test_a_malformed_duration_is_refused_with_the_forms_it_takes(text, message):
    with pytest.raises(RlpipeError, match="^" + message.replace("(", r"\(")):
        parse_duration(text)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _result(root, run, seed, frames, wall_s, threads=1):
    folder = root / "runs" / run / f"seed-{seed}"
    folder.mkdir(parents=True)
    result = {"seed": seed, "return_ma": 1.0, "frames": frames, "wall_s": wall_s, "fps": 1.0,
              "device": "cpu", "torch_threads": threads}  # fmt: skip
    (folder / "result.json").write_text(json.dumps(result))


def test_a_chain_part_is_judged_by_its_runs_last_training_over_the_rest_of_its_chain(tmp_path):
    # the run's last training: 2 seeds of 1000 frames, 600 s each (one core each)
    _result(tmp_path, "a", 0, 1000, 600.0)
    _result(tmp_path, "a", 1, 1000, 600.0)
    shapes = {  # part 1 of 2, 250 frames each; b: never trained
        "train-a-part-1": StageShape("a", (0, 1), 250, 500),
        "train-b": StageShape("b", (0,), 9, 9),
    }
    clock = Clock()
    deadline = Deadline(tmp_path, 400.0, shapes, cpus=2, clock=clock)
    # 500 frames to the chain's end at 0.6 s per frame, the two seeds side by side: 300 s
    assert deadline.expected_s("train-a-part-1") == (300.0, "its last training")
    assert deadline.admits("train-a-part-1") is None
    clock.now += 150.0
    assert deadline.admits("train-a-part-1") == (
        "left for a later run: about 5 min with the rest of its chain at its last training, "
        "4 min left of the time limit"
    )
    assert deadline.expected_s("train-b") is None  # never trained: nothing to judge it by
    assert deadline.admits("train-b") is None
    on_one_core = Deadline(tmp_path, 400.0, shapes, cpus=1, clock=clock)
    assert on_one_core.expected_s("train-a-part-1") == (600.0, "its last training")


def test_the_pace_measured_in_this_command_wins_over_the_last_training(tmp_path):
    _result(tmp_path, "a", 0, 1000, 10.0)  # an old, much faster run
    shapes = {
        "train-a-part-1": StageShape("a", (0,), 100, 150),
        "train-a": StageShape("a", (0,), 50, 50),
    }
    clock = Clock()
    deadline = Deadline(tmp_path, 3600.0, shapes, cpus=1, clock=clock)
    deadline.started("train-a-part-1")
    clock.now += 1200.0
    deadline.finished("train-a-part-1")
    assert deadline.expected_s("train-a") == (600.0, "this run's pace so far")
    assert deadline.admits("train-a") is None  # 600 s of the 2400 left
    clock.now += 1900.0
    assert deadline.admits("train-a") == (
        "left for a later run: about 10 min at this run's pace so far, 8 min left of the time limit"
    )


def test_a_stage_that_would_overrun_is_left_with_the_rest_of_its_chain(tmp_path, monkeypatch):
    """A chain of three parts (a-part-1, a-part-2, a) and another run (b). The first part takes
    50 s; the other two would take as long each, past the 80 s limit: both are left, and b
    (never trained, no pace) still starts."""
    import rlpipe.suite_run
    from rlpipe.suite_run import StaleStage, _run_stages

    monkeypatch.setattr(rlpipe.suite_run, "_dvc", lambda root, *args: None)
    monkeypatch.setattr(rlpipe.suite_run, "POLL_S", 0.0)
    clock = Clock()

    class Training:  # ends at its first poll, 50 s after it started
        def poll(self):
            clock.now += 50.0
            return CommandResult(0, "", "node-1")

        def stop(self):
            raise AssertionError("nothing stops it")

    started: list[str] = []

    class Runner:
        def start(self, command, cwd, resources):
            started.append(command)
            return Training()

    stages = [
        StaleStage("train-a-part-1", "train a 1", run="a"),
        StaleStage("train-a-part-2", "train a 2", after="train-a-part-1", run="a"),
        StaleStage("train-a", "train a 3", after="train-a-part-2", run="a"),
        StaleStage("train-b", "train b", run="b"),
    ]
    shapes = {
        s.name: StageShape(s.run, (0,), 100, to_end)
        for s, to_end in zip(stages, [300, 200, 100, 100], strict=True)
    }
    deadline = Deadline(tmp_path, 80.0, shapes, cpus=1, clock=clock)
    trained: list[str] = []
    failures: list[str] = []
    shown: list[str] = []
    _run_stages(tmp_path, stages, Runner(), Resources(), 1, trained, failures, shown.append,
                deadline=deadline)  # fmt: skip
    assert started == ["train a 1", "train b"]
    assert trained == ["train-a-part-1", "train-b"] and failures == []
    assert deadline.left == ["train-a-part-2", "train-a"]
    assert shown == [
        "train-a-part-1: started",
        "train-a-part-1: trained on node-1, committed to dvc.lock",
        "train-a-part-2: left for a later run: about 2 min with the rest of its chain at this "
        "run's pace so far, 30 s left of the time limit",
        "train-b: started",
        "train-b: trained on node-1, committed to dvc.lock",
    ]


def test_time_limit_is_refused_on_ray(tmp_path):
    from rlpipe.suite_run import run_suite

    with pytest.raises(RlpipeError, match="--time-limit times stages run here, one at a time"):
        run_suite(tmp_path, True, None, time_limit_s=60.0)
