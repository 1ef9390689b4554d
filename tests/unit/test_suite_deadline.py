"""`rlpipe suite run --time-limit`: a stage starts only if, at its expected pace, it ends in time."""

from __future__ import annotations

import json

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.scale import CommandResult, Resources
from rlpipe.suite_deadline import Deadline, StageShape, parse_duration
from rlpipe.suite_run import StaleStage
from rlpipe.suite_sources import SourceSnapshot


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


def _deadline(root, limit_s, shapes, cpus=1):
    clock = Clock()
    return Deadline(root, limit_s, shapes, cpus, clock.now, clock), clock


def _result(root, run, seed, frames, wall_s, threads=1, device="cpu"):
    folder = root / "runs" / run / f"seed-{seed}"
    folder.mkdir(parents=True)
    result = {"seed": seed, "return_ma": 1.0, "frames": frames, "wall_s": wall_s, "fps": 1.0,
              "device": device, "torch_threads": threads}  # fmt: skip
    (folder / "result.json").write_text(json.dumps(result))


def test_a_chain_part_is_judged_by_its_runs_last_training_over_the_rest_of_its_chain(tmp_path):
    # the run's last training: 2 seeds of 1000 frames, 600 s each (one core each)
    _result(tmp_path, "a", 0, 1000, 600.0)
    _result(tmp_path, "a", 1, 1000, 600.0)
    shapes = {  # part 1 of 2, 250 frames each; b: never trained
        "train-a-part-1": StageShape("a", (0, 1), 250, 500),
        "train-b": StageShape("b", (0,), 9, 9),
    }
    deadline, clock = _deadline(tmp_path, 400.0, shapes, cpus=2)
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
    assert deadline.started("train-b") == " (nothing has timed its run yet)"
    clock.now += 250.0
    assert deadline.admits("train-b") == "left for a later run: the time limit has passed"
    on_one_core, _ = _deadline(tmp_path, 400.0, shapes, cpus=1)
    assert on_one_core.expected_s("train-a-part-1") == (600.0, "its last training")


def test_the_last_trainings_wall_time_counts_not_its_threads_and_gpu_seeds_take_turns(tmp_path):
    _result(tmp_path, "a", 0, 1000, 600.0, threads=2)  # one seed had both cores
    _result(tmp_path, "g", 0, 1000, 100.0, device="cuda")
    _result(tmp_path, "g", 1, 1000, 100.0, device="cuda")
    shapes = {"train-a": StageShape("a", (0,), 1000, 1000),
              "train-g": StageShape("g", (0, 1), 1000, 1000)}  # fmt: skip
    deadline, _ = _deadline(tmp_path, 3600.0, shapes, cpus=2)
    assert deadline.expected_s("train-a") == (600.0, "its last training")
    assert deadline.expected_s("train-g") == (200.0, "its last training")


def test_a_seed_group_never_trained_is_judged_by_its_runs_other_seeds(tmp_path):
    # seeds 0 and 1 trained in an earlier session (1000 frames, 600 s and 900 s); 2 and 3 never
    for seed, wall_s in ((0, 600.0), (1, 900.0)):
        _result(tmp_path, "a", seed, 1000, wall_s)
        (tmp_path / "runs" / "a" / f"seed-{seed}" / "metrics.csv").write_text("frame\n1000\n")
    shapes = {"train-a-seeds-2-3-part-1": StageShape("a", (2, 3), 250, 1000),
              "train-a-seeds-2-3-4": StageShape("a", (2, 3, 4), 1000, 1000)}  # fmt: skip
    deadline, _ = _deadline(tmp_path, 1000.0, shapes, cpus=2)
    # to the chain's end: 1000 frames at seeds 0 and 1's pace, side by side: (600 + 900) / 2
    assert deadline.expected_s("train-a-seeds-2-3-part-1") == (
        750.0,
        "the last training of seeds 0, 1",
    )
    assert deadline.admits("train-a-seeds-2-3-part-1") is None
    assert deadline.expected_s("train-a-seeds-2-3-4") is None  # three seeds, two stand-ins
    slower, _ = _deadline(tmp_path, 600.0, shapes, cpus=2)
    assert slower.admits("train-a-seeds-2-3-part-1") == (
        "left for a later run: about 12 min with the rest of its chain at the last training of "
        "seeds 0, 1, 10 min left of the time limit"
    )
    # a seed of the group with a result of its own is never judged by another's pace
    _result(tmp_path, "a", 2, 1000, 60.0)
    assert deadline.expected_s("train-a-seeds-2-3-part-1") is None


def test_the_pace_measured_in_this_command_wins_over_the_last_training(tmp_path):
    _result(tmp_path, "a", 0, 1000, 10.0)  # an old, much faster run
    shapes = {
        "train-a-part-1": StageShape("a", (0,), 100, 150),
        "train-a": StageShape("a", (0,), 50, 50),
        "train-a-seeds-1-2": StageShape("a", (1, 2), 50, 50),  # another group's size: not paced
    }
    deadline, clock = _deadline(tmp_path, 3600.0, shapes)
    deadline.started("train-a-part-1")
    clock.now += 1200.0
    deadline.finished("train-a-part-1")
    assert deadline.expected_s("train-a") == (600.0, "this run's pace so far")
    assert deadline.expected_s("train-a-seeds-1-2") is None  # seeds 1 and 2 never trained
    assert deadline.admits("train-a") is None  # 600 s of the 2400 left
    clock.now += 1900.0
    assert deadline.admits("train-a") == (
        "left for a later run: about 10 min at this run's pace so far, 8 min left of the time limit"
    )


class Training:  # ends at its first poll, 50 s after it started
    def __init__(self, clock, code):
        self.clock, self.code = clock, code

    def poll(self):
        self.clock.now += 50.0
        return CommandResult(self.code, "", "node-1")

    def stop(self):
        raise AssertionError("nothing stops it")


class Runner:
    def __init__(self, clock, failing=()):
        self.clock, self.failing, self.started = clock, failing, []

    def start(self, command, cwd, resources):
        self.started.append(command)
        return Training(self.clock, 1 if command in self.failing else 0)


def _run(tmp_path, monkeypatch, stages, deadline, runner):
    import rlpipe.suite_run

    monkeypatch.setattr(rlpipe.suite_run, "_dvc", lambda root, *args: None)
    monkeypatch.setattr(rlpipe.suite_run, "POLL_S", 0.0)
    trained: list[str] = []
    failures: list[str] = []
    shown: list[str] = []
    recorder = rlpipe.suite_run._Recorder(tmp_path, {}, SourceSnapshot(tmp_path, ()), False)
    rlpipe.suite_run._run_stages(tmp_path, stages, runner, Resources(), 1, trained, failures,
                                 shown.append, recorder, deadline=deadline)  # fmt: skip
    return trained, failures, shown


def test_a_stage_that_would_overrun_is_left_with_the_rest_of_its_chain(tmp_path, monkeypatch):
    """A chain of three parts (a-part-1, a-part-2, a) and another run (b). The first part takes
    50 s; the other two would take as long each, past the 80 s limit: both are left, and b
    (never trained, no pace) still starts."""
    stages = [
        StaleStage("train-a-part-1", "train a 1", run="a"),
        StaleStage("train-a-part-2", "train a 2", after="train-a-part-1", run="a"),
        StaleStage("train-a", "train a 3", after="train-a-part-2", run="a"),
        StaleStage("train-b", "train b", run="b"),
    ]
    to_end = [300, 200, 100, 100]
    shapes = {s.name: StageShape(s.run, (0,), 100, n) for s, n in zip(stages, to_end, strict=True)}
    deadline, clock = _deadline(tmp_path, 80.0, shapes)
    runner = Runner(clock)
    trained, failures, shown = _run(tmp_path, monkeypatch, stages, deadline, runner)
    assert runner.started == ["train a 1", "train b"]
    assert trained == ["train-a-part-1", "train-b"] and failures == []
    assert deadline.left == ["train-a-part-2", "train-a"]
    assert shown == [
        "train-a-part-1: started (nothing has timed its run yet)",
        "train-a-part-1: trained on node-1, committed to dvc.lock",
        "train-a-part-2: left for a later run: about 2 min with the rest of its chain at this "
        "run's pace so far, 30 s left of the time limit",
        "train-b: started (nothing has timed its run yet)",
        "train-b: trained on node-1, committed to dvc.lock",
    ]


def test_a_failed_stage_sets_no_pace(tmp_path, monkeypatch):
    """c fails after 50 s; had its 50 s set the pace, c2 (as many frames) would not fit the 30 s
    left and would be left; as it is, nothing has timed run c, so c2 starts."""
    stages = [StaleStage("train-c", "train c", run="c"), StaleStage("train-c2", "c2", run="c")]
    shapes = {s.name: StageShape("c", (0,), 100, 100) for s in stages}
    deadline, clock = _deadline(tmp_path, 80.0, shapes)
    runner = Runner(clock, failing=("train c",))
    trained, failures, shown = _run(tmp_path, monkeypatch, stages, deadline, runner)
    assert runner.started == ["train c", "c2"] and trained == ["train-c2"]
    assert failures == ["train-c on node-1: exit code 1: "]
    assert "train-c2: started (nothing has timed its run yet)" in shown


def test_time_limit_is_refused_on_ray(tmp_path):
    from rlpipe.suite_run import run_suite

    with pytest.raises(RlpipeError, match="with --ray the cluster queues them") as refused:
        run_suite(tmp_path, True, None, time_limit_s=60.0)
    assert str(refused.value).endswith(
        "drop --ray, or leave the limit to the cluster's job scheduler"
    )
