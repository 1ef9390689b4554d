"""`rlpipe suite run`'s progress lines: a running stage's frames, read from its metrics files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rlpipe.suite_progress import (
    ProgressReporter,
    StageCommand,
    StageProgress,
    last_frame,
    progress_line,
    read_progress,
    stage_command,
)

GROUP = (
    "rlpipe train crossq hopper -s env.max_frame=200000 -s meta.seeds=4 --device cpu "
    "--out runs/crossq-hopper --artifacts artifacts/crossq-hopper --overwrite --quiet "
    "--only-seeds 0,1"
)
PART = (
    "rlpipe train ppo pong -s env.max_frame=2000000 -s meta.seeds=4 --device cpu --resume-from "
    "parts/ppo-pong/seeds-0-1/part-1 --out parts/ppo-pong/seeds-0-1/part-2 --overwrite --quiet "
    "--until-frame 500000 --only-seeds 0,1"
)
HEADER = "frame,wall_s,fps,episodes,return_mean,return_ma\n"


def write_metrics(path: Path, *frames: int, partial: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{frame},1.0,90.0,3,-1.0,-1.0\n" for frame in frames)
    path.write_text(HEADER + rows + partial)


def test_a_stage_command_gives_its_folder_its_last_frame_and_its_seeds():
    assert stage_command(GROUP) == StageCommand("runs/crossq-hopper", 200_000, [0, 1], 4)
    assert stage_command(PART) == StageCommand("parts/ppo-pong/seeds-0-1/part-2", 500_000,
                                               [0, 1], 4)  # fmt: skip
    assert stage_command("rlpipe train sac pendulum -s env.max_frame=3e5 --out runs/x") == (
        StageCommand("runs/x", 300_000, None, None)
    )
    assert stage_command("rlpipe train x -s env.max_frame=inf --out runs/x").until is None
    assert stage_command("rlpipe train 'unclosed") == StageCommand(None, None, None, None)


def test_the_last_frame_is_the_last_whole_row(tmp_path):
    metrics = tmp_path / "metrics.csv"
    write_metrics(metrics)
    assert last_frame(metrics) is None  # the header only
    write_metrics(metrics, 1000, 2000, partial="3000,1.")  # a row still being written
    assert last_frame(metrics) == 2000
    write_metrics(metrics, *range(1000, 400_001, 1000))  # longer than the tail read
    assert last_frame(metrics) == 400_000
    metrics.write_text(HEADER + "5000,1\ninf,1\n")
    assert last_frame(metrics) == 5000
    assert last_frame(tmp_path / "missing.csv") is None


def test_progress_sums_the_stages_seeds_and_counts_only_this_stages_rows(tmp_path):
    hopper = tmp_path / "runs" / "crossq-hopper"
    write_metrics(hopper / "seed-0" / "metrics.csv", 1000, 61_000)
    write_metrics(hopper / "seed-1" / "metrics.csv", 1000, 59_000)
    write_metrics(hopper / "seed-2" / "metrics.csv", 200_000)  # not this stage's seed
    since = time.time() - 60
    assert read_progress(tmp_path, GROUP, since) == StageProgress(120_000, 400_000, 2)

    old = time.time() - 3600  # the run --overwrite is replacing: not yet this stage's rows
    os.utime(hopper / "seed-1" / "metrics.csv", (old, old))
    assert read_progress(tmp_path, GROUP, since) == StageProgress(61_000, 400_000, 2)
    os.utime(hopper / "seed-0" / "metrics.csv", (old, old))
    assert read_progress(tmp_path, GROUP, since) is None  # no row of this stage yet

    # a whole-run stage of 4 seeds on 2 cores: seeds 2 and 3 have not started (0 frames)
    whole = GROUP.replace(" --only-seeds 0,1", "")
    for seed in (0, 1):
        os.utime(hopper / f"seed-{seed}" / "metrics.csv")
    (hopper / "seed-2" / "metrics.csv").unlink()
    assert read_progress(tmp_path, whole, since) == StageProgress(120_000, 800_000, 4)


def test_the_lines_say_share_frames_seeds_time_so_far_and_time_left():
    assert progress_line("train-a", None, 30) == "train-a: starting (0 min so far)"
    assert progress_line("train-a", StageProgress(5000, None, 1), 150) == (
        "train-a: 5,000 frames (1 seed), 2 min so far"
    )
    assert progress_line("train-a", StageProgress(120_000, 400_000, 2), 720, rate=200.0) == (
        "train-a: 30% (120,000 of 400,000 frames, 2 seeds), 12 min so far, about 23 min left"
    )


def test_the_reporter_shows_each_running_stage_once_per_interval_with_its_pace(tmp_path):
    metrics = tmp_path / "runs" / "crossq-hopper" / "seed-0" / "metrics.csv"
    shown: list[str] = []
    now = [time.time() - 1000]
    reporter = ProgressReporter(tmp_path, shown.append, 60.0, clock=lambda: now[0])
    reporter.started("train-h", GROUP.replace("--only-seeds 0,1", "--only-seeds 0"))
    write_metrics(metrics, 10_000)
    now[0] += 30
    reporter.tick()
    assert shown == []  # not a minute yet
    steps = [(30, [10_000]), (60, [10_000, 20_000]), (60, [1000]), (60, [1000, 11_000])]
    for seconds, frames in steps:  # [1000]: the seed's folder was replaced: a new pace
        write_metrics(metrics, *frames)
        now[0] += seconds
        reporter.tick()
    assert shown == [
        "train-h: 5% (10,000 of 200,000 frames, 1 seed), 1 min so far",
        "train-h: 10% (20,000 of 200,000 frames, 1 seed), 2 min so far, about 18 min left",
        "train-h: 0% (1,000 of 200,000 frames, 1 seed), 3 min so far",
        "train-h: 6% (11,000 of 200,000 frames, 1 seed), 4 min so far, about 19 min left",
    ]
    reporter.finished("train-h")
    now[0] += 60
    reporter.tick()
    assert len(shown) == 4


def test_a_progress_line_that_fails_is_a_line_not_a_stopped_training(tmp_path, monkeypatch):
    import rlpipe.suite_progress

    def broken(*args):
        raise PermissionError("metrics.csv: permission denied")

    monkeypatch.setattr(rlpipe.suite_progress, "read_progress", broken)
    shown: list[str] = []
    reporter = ProgressReporter(tmp_path, shown.append, 0.0)
    reporter.started("train-h", GROUP)
    reporter.tick()
    assert shown == ["train-h: progress unknown (PermissionError: metrics.csv: permission denied)"]
