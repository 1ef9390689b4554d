"""How `rlpipe suite plan` names a change and counts a chained stage's frames."""

from __future__ import annotations

from rlpipe.stages import TrainStage
from rlpipe.suite_plan import short_change, stage_frames


def test_changes_read_as_code_spec_or_command():
    assert short_change("fingerprints/train-crossq.json modified") == "code train-crossq"
    assert short_change("pipelines/sac.yaml specs.pendulum modified") == "sac.yaml specs.pendulum"
    assert short_change("pipelines/ppo.yaml defaults modified") == "ppo.yaml defaults"
    assert short_change("changed command") == "command"
    assert short_change("runs/x/spec.json modified") == "runs/x/spec.json modified"


def test_a_chain_part_trains_its_share_of_the_frames():
    first = TrainStage("train-x-part-1", "x", None, part=1, parts=3, until=400)
    middle = TrainStage("train-x-part-2", "x", None, part=2, parts=3, until=800)
    last = TrainStage("train-x", "x", None, part=3, parts=3)
    assert [stage_frames(s, 1000, 400) for s in (first, middle, last)] == [400, 400, 200]
    assert stage_frames(TrainStage("train-y", "y", (0, 1)), 300, 300) == 300
