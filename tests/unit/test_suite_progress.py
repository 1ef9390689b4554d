"""`rlpipe suite run`'s progress lines: a running stage's frames, read from its metrics files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rlpipe.suite_progress import (
    ProgressReporter,
    StageProgress,
    last_frame,
    progress_line,
    read_progress,
    stage_frames,
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
    assert stage_frames(GROUP) == ("runs/crossq-hopper", 200_000, [0, 1])
    assert stage_frames(PART) == ("parts/ppo-pong/seeds-0-1/part-2", 500_000, [0, 1])
    assert stage_frames("rlpipe train sac pendulum -s env.max_frame=3e5 --out runs/x") == (
        "runs/x", 300_000, None
    )  # fmt: skip
    assert stage_frames("rlpipe train sac pendulum --out runs/x") == ("runs/x", None, None)
    assert stage_frames("rlpipe train 'unclosed") == (None, None, None)


def test_the_last_frame_is_the_last_whole_row(tmp_path):
    metrics = tmp_path / "metrics.csv"
    write_metrics(metrics)
    assert last_frame(metrics) is None  # the header only
    write_metrics(metrics, 1000, 2000, partial="3000,1.")  # a row still being written
    assert last_frame(metrics) == 2000
    write_metrics(metrics, *range(1000, 400_001, 1000))  # longer than the tail read
    assert last_frame(metrics) == 400_000
    assert last_frame(tmp_path / "missing.csv") is None


def test_progress_is_the_slowest_seed_of_the_stage_and_only_from_this_stage(tmp_path):
    write_metrics(tmp_path / "runs/crossq-hopper/seed-0/metrics.csv", 1000, 61_000)
    write_metrics(tmp_path / "runs/crossq-hopper/seed-1/metrics.csv", 1000, 59_000)
    write_metrics(tmp_path / "runs/crossq-hopper/seed-2/metrics.csv", 200_000)  # not this stage's
    assert read_progress(tmp_path, GROUP, time.time() - 60) == StageProgress(59_000, 200_000)

    old = time.time() - 3600  # the run --overwrite is replacing: not yet this stage's rows
    os.utime(tmp_path / "runs/crossq-hopper/seed-1/metrics.csv", (old, old))
    assert read_progress(tmp_path, GROUP, time.time() - 60) is None
    whole = GROUP.replace(" --only-seeds 0,1", "")
    os.utime(tmp_path / "runs/crossq-hopper/seed-1/metrics.csv")
    assert read_progress(tmp_path, whole, time.time() - 60) == StageProgress(59_000, 200_000)


def test_the_lines_say_frames_share_time_so_far_and_time_left():
    assert progress_line("train-a", None, 30) == "train-a: starting (0 min so far)"
    assert progress_line("train-a", StageProgress(5000, None), 150) == (
        "train-a: frame 5,000, 2 min so far"
    )
    assert progress_line("train-a", StageProgress(60_000, 200_000), 720, rate=100.0) == (
        "train-a: frame 60,000 of 200,000 (30%), 12 min so far, about 23 min left"
    )


def test_the_reporter_shows_each_running_stage_once_per_interval_with_its_pace(tmp_path):
    metrics = tmp_path / "runs/crossq-hopper/seed-0/metrics.csv"
    shown: list[str] = []
    now = [time.time() - 1000]
    reporter = ProgressReporter(tmp_path, shown.append, 60.0, clock=lambda: now[0])
    reporter.started("train-h", GROUP.replace("--only-seeds 0,1", "--only-seeds 0"))
    write_metrics(metrics, 10_000)
    now[0] += 30
    reporter.tick()
    assert shown == []  # not a minute yet
    now[0] += 30
    reporter.tick()
    write_metrics(metrics, 10_000, 20_000)
    now[0] += 60
    reporter.tick()
    assert shown == [
        "train-h: frame 10,000 of 200,000 (5%), 1 min so far",
        "train-h: frame 20,000 of 200,000 (10%), 2 min so far, about 18 min left",
    ]
    reporter.finished("train-h")
    now[0] += 60
    reporter.tick()
    assert len(shown) == 2
