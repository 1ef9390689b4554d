"""`rlpipe enjoy` on tiny trained runs: each episode's return as `rlpipe eval` gives it, and
replay files that read back with the frames that were played (one per reset and per step)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.errors import RlpipeError
from rlpipe.launch import TrainOptions, train_run
from rlpipe.rundir import RunFolder
from rlpipe.spec import hash_document, resolve_spec
from rlpipe.watch.video import GIF_MAX_SIDE
from tests.conftest import REPO

pytest.importorskip("moviepy", reason="the video extra is not installed: pip install '.[video]'")

# A few hundred frames with small nets: seconds per run, an untrained but complete run folder.
TINY = ["seeds=1", "meta.log_interval=100", "meta.eval_episodes=2", "meta.checkpoint_interval=300"]
RUNS = {
    # run key: (family, spec, overrides)
    # the Huber loss: the SB3 twin of the peer tests has no other
    "dqn-cartpole": ("dqn", "cartpole", ["max_frame=300", "algorithm.learning_starts=100",
                                         "meta.eval_interval=300", "algorithm.loss=huber"]),
    "crossq-pendulum": ("crossq", "pendulum", [
        "max_frame=300", "algorithm.learning_starts=200", "algorithm.batch_size=32",
        "algorithm.actor.hidden=[32, 32]", "algorithm.critic.hidden=[64, 64]",
        "meta.eval_interval=300"]),
}  # fmt: skip
EPISODE = re.compile(r"episode (\d+): return (-?[\d,.]+), ([\d,]+) steps")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/<key> of each tiny run, trained once for the module."""
    root = tmp_path_factory.mktemp("runs")
    for key, (family, spec, overrides) in RUNS.items():
        resolved = resolve_spec(family, spec, [*TINY, *overrides], REPO / "pipelines")
        train_run(resolved, TrainOptions(device="cpu", out=root / key))
    return root


def enjoy(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["enjoy", *args], terminal_width=200)
    return result.exit_code, result.output


def episodes(output: str) -> list[tuple[int, float, int]]:
    """(episode, return, steps) of each `episode K: return R, N steps` line."""
    return [
        (int(k), float(r.replace(",", "")), int(n.replace(",", "")))
        for k, r, n in EPISODE.findall(output)
    ]


def frames_played(gif, fps: float) -> int:
    """Frames a GIF plays at fps, from its frames' durations: Pillow folds a frame identical to
    the one before into it (adding up their durations), so n_frames can be fewer."""
    total_ms = 0
    for index in range(gif.n_frames):
        gif.seek(index)
        total_ms += gif.info["duration"]
    return round(total_ms * fps / 1000)


def eval_first_episode(run_dir: Path, tmp_path: Path) -> float:
    """seed 0's return over `rlpipe eval --episodes 1`: its first eval episode."""
    output = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app, ["eval", str(run_dir), "--episodes", "1", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    return json.loads(output.read_text())["per_seed"][0]["return_mean"]


@pytest.mark.parametrize("key", list(RUNS))
def test_enjoy_plays_evals_first_episode_with_the_same_return(runs, key, tmp_path):
    code, output = enjoy(str(runs / key), "--episodes", "2")
    assert code == 0, output
    played = episodes(output)
    assert [k for k, _, _ in played] == [1, 2]
    assert played[0][1] == pytest.approx(eval_first_episode(runs / key, tmp_path), abs=0.05)
    mean = sum(r for _, r, _ in played) / 2
    assert f"seed 0, deterministic policy: mean return {mean:.1f} over 2 episodes" in output


def test_cartpole_mp4_has_one_frame_per_reset_and_step(runs, tmp_path):
    import imageio_ffmpeg

    video = tmp_path / "replay.mp4"
    code, output = enjoy(str(runs / "dqn-cartpole"), "--episodes", "2", "--video", str(video))
    assert code == 0, output
    steps = [n for _, _, n in episodes(output)]
    expected = sum(steps) + len(steps)  # RecordVideo: a frame at each reset and after each step
    assert f"wrote {video} ({expected:,} frames at 50 fps)" in " ".join(output.split())
    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    frames = sum(1 for _ in reader)
    assert frames == expected
    assert meta["fps"] == 50 and meta["size"] == (600, 400)  # CartPole's own 600x400 render


def test_an_mp4_that_ffmpeg_did_not_finish_never_replaces_the_old_one(tmp_path, monkeypatch):
    import imageio_ffmpeg
    import numpy as np

    from rlpipe.watch.video import write_video

    video = tmp_path / "replay.mp4"
    frames = [np.full((32, 48, 3), shade, dtype=np.uint8) for shade in range(0, 250, 25)]
    write_video(frames, video, fps=10)
    assert imageio_ffmpeg.count_frames_and_secs(str(video))[0] == 10
    good = video.read_bytes()

    # what a full disk does when the encoder flushes: ffmpeg fails on close, nobody says so
    monkeypatch.setattr(imageio_ffmpeg, "count_frames_and_secs", lambda path: (7, 0.7))
    with pytest.raises(RlpipeError, match=r"could not write .*replay.mp4: ffmpeg wrote 7 of 10 "):
        write_video(frames, video, fps=10)
    assert video.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["replay.mp4"]  # no temp file left


def test_pendulum_gif_is_cut_at_max_steps_and_scaled_down(runs, tmp_path):
    from PIL import Image

    video = tmp_path / "replay.gif"
    code, output = enjoy(
        str(runs / "crossq-pendulum"), "--video", str(video), "--max-steps", "30", "--stochastic"
    )
    assert code == 0, output
    assert episodes(output)[0][2] == 30 and "cut there by --max-steps" in output
    assert "stochastic policy" in output
    with Image.open(video) as gif:
        assert frames_played(gif, fps=30) == 31 and 1 < gif.n_frames <= 31
        assert max(gif.size) == GIF_MAX_SIDE  # Pendulum renders 500x500


def test_video_does_not_change_the_returns(runs, tmp_path):
    run = str(runs / "crossq-pendulum")
    _, plain = enjoy(run, "--max-steps", "50")
    _, recorded = enjoy(run, "--max-steps", "50", "--video", str(tmp_path / "r.gif"))
    assert episodes(plain) == episodes(recorded)


def test_mujoco_renders_headless_or_says_which_package_is_missing(tmp_path, monkeypatch):
    """InvertedPendulum through the offscreen GL backend this machine has (EGL or OSMesa); where
    none renders, the error names the system packages and MUJOCO_GL, with no traceback."""
    from rlpipe.watch import headless

    pytest.importorskip("mujoco", reason="the mujoco extra is not installed")
    overrides = [*TINY, *RUNS["crossq-pendulum"][2]]
    resolved = resolve_spec("crossq", "invertedpendulum", overrides, REPO / "pipelines")
    run_dir = tmp_path / "crossq-invertedpendulum"
    train_run(resolved, TrainOptions(device="cpu", out=run_dir))
    monkeypatch.setenv("MUJOCO_GL", "egl")  # records the variable's state before, for undo
    monkeypatch.delenv("MUJOCO_GL")  # unset: rlpipe chooses (and sets it for this process)
    headless.mujoco_backend.cache_clear()
    try:
        backend = headless.mujoco_backend()
    except RlpipeError as error:
        assert "apt-get install libegl1 libegl-mesa0" in str(error)
        assert "MUJOCO_GL=osmesa" in str(error)
        code, output = enjoy(str(run_dir), "--video", str(tmp_path / "r.mp4"))
        assert code == 2 and "Traceback" not in output and "libosmesa6" in output
        pytest.skip(f"no offscreen GL here: {error}")
    finally:
        headless.mujoco_backend.cache_clear()
    video = tmp_path / "r.gif"
    code, output = enjoy(str(run_dir), "--video", str(video), "--max-steps", "20")
    assert code == 0, output
    assert os.environ["MUJOCO_GL"] == backend
    from PIL import Image

    with Image.open(video) as gif:
        steps = episodes(output)[0][2]
        fps = float(re.search(r"frames at ([\d.]+) fps", output)[1])
        assert frames_played(gif, fps) == steps + 1
        assert gif.getextrema() != ((0, 0), (0, 0), (0, 0))  # not a black frame


def test_unknown_mujoco_gl_value_is_a_clear_error(runs, tmp_path, monkeypatch):
    from rlpipe.watch import headless

    monkeypatch.setenv("MUJOCO_GL", "glfw")
    headless.mujoco_backend.cache_clear()
    try:
        with pytest.raises(RlpipeError, match="MUJOCO_GL=glfw cannot render without a display"):
            headless.mujoco_backend()
    finally:
        headless.mujoco_backend.cache_clear()


def test_run_without_weights_is_a_clear_error(runs, tmp_path):
    run_dir = tmp_path / "no-weights"
    shutil.copytree(runs / "dqn-cartpole", run_dir)
    RunFolder(run_dir).seed(0).model.unlink()
    code, output = enjoy(str(run_dir))
    assert code == 2, output
    assert "Traceback" not in output
    assert "seed-0" in output and "model.pt" in output
    assert "pass --artifacts artifacts/<run>" in " ".join(output.split())  # not "re-train"


def test_unknown_seed_and_video_suffix_are_clear_errors(runs, tmp_path):
    code, output = enjoy(str(runs / "dqn-cartpole"), "--seed", "7")
    assert code == 2 and "has no seed 7: its seeds are [0]" in output
    code, output = enjoy(str(runs / "dqn-cartpole"), "--video", str(tmp_path / "r.avi"))
    assert code == 2 and "must end in .mp4 or .gif" in output
    assert not (tmp_path / "r.avi").exists()


def test_train_prints_the_run_folder_and_the_next_commands(tmp_path):
    out = tmp_path / "run"
    family, spec, overrides = RUNS["dqn-cartpole"]
    sets = [x for o in [*TINY, *overrides] for x in ("-s", o)]
    result = CliRunner().invoke(
        app, ["train", family, spec, *sets, "--out", str(out)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"run folder: {out}" in text
    assert f"rlpipe enjoy {out} --episodes 3 --video run.mp4" in text  # outside the run
    assert f"rlpipe eval {out}" in text and "rlpipe report" in text


def test_a_trained_seed_group_suggests_the_groups_own_next_commands(tmp_path):
    out = tmp_path / "run"
    family, spec, overrides = RUNS["dqn-cartpole"]
    sets = [x for o in [*TINY, *overrides, "meta.seeds=2"] for x in ("-s", o)]
    result = CliRunner().invoke(
        app, ["train", family, spec, *sets, "--out", str(out), "--only-seeds", "1"],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "seeds [1] of [0, 1]" in text
    assert f"seed group seeds-1 of {out} trained (groups/seeds-1.json, seed-K/)" in text
    assert f"rlpipe eval {out} --only-seeds 1 --output evals/run/seeds-1.json" in text
    assert f"rlpipe summarize {out}" in text and "rlpipe enjoy" not in text
    assert not (out / "spec.json").exists()  # what `rlpipe eval RUN` would have needed


def test_enjoy_plays_a_peer_run_through_its_twin(tmp_path):
    family, spec, overrides = RUNS["dqn-cartpole"]
    resolved = resolve_spec(family, spec, [*TINY, *overrides], REPO / "pipelines")
    run_dir = tmp_path / "dqn-cartpole-sb3"
    train_run(resolved, TrainOptions(device="cpu", out=run_dir, peer="sb3"))
    code, output = enjoy(str(run_dir), "--episodes", "2", "--max-steps", "50")
    assert code == 0, output
    assert [index for index, _, _ in episodes(output)] == [1, 2]


def test_a_run_labelled_peer_without_the_twins_weights_is_a_clear_error(runs, tmp_path):
    run_dir = tmp_path / "dqn-cartpole-sb3"
    shutil.copytree(runs / "dqn-cartpole", run_dir)
    provenance = json.loads((run_dir / "provenance.json").read_text())
    provenance["peer"] = {"name": "sb3", "versions": {"stable-baselines3": "2.9.2"}}
    (run_dir / "provenance.json").write_text(json.dumps(provenance))
    code, output = enjoy(str(run_dir))
    assert code == 2 and "Traceback" not in output
    assert "does not hold the SB3 twin's weights" in " ".join(output.split())


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    total = 0.0
    for each in pids:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def wait_for_video_file(folder: Path, process: subprocess.Popen, timeout_s: float) -> None:
    """Return once the encoder has written its first bytes into folder (the partial video)."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        if folder.exists() and any(f.stat().st_size > 0 for f in folder.iterdir()):
            return
        time.sleep(0.5)
    pytest.fail(f"enjoy wrote no video bytes in {timeout_s} s (exit code {process.poll()})")


def test_a_never_ending_episode_streams_its_video_and_stops_on_sigterm(tmp_path):
    # Pendulum never terminates: given a 1e6-step time limit after training (as a pulled spec
    # could say, its hash recomputed), its one episode outlasts the test.
    resolved = resolve_spec("crossq", "pendulum", [*TINY, *RUNS["crossq-pendulum"][2]],
                            REPO / "pipelines")  # fmt: skip
    run_dir = tmp_path / "run"
    train_run(resolved, TrainOptions(device="cpu", out=run_dir))
    saved = json.loads((run_dir / "spec.json").read_text())
    saved["spec"]["env"]["max_episode_steps"] = 1_000_000
    saved["spec_hash"] = hash_document(saved["spec"])
    (run_dir / "spec.json").write_text(json.dumps(saved))
    video = tmp_path / "videos" / "long.mp4"
    process = subprocess.Popen(
        [sys.executable, "-m", "rlpipe", "enjoy", str(run_dir), "--video", str(video)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Measure from the moment the encoder has opened its file: on a busy machine (tests side
        # by side) start-up alone can outlast a fixed wait, and its imports would read as growth.
        wait_for_video_file(video.parent, process, timeout_s=180)
        early = rss_mib(process.pid)
        time.sleep(8)
        late = rss_mib(process.pid)
        assert process.poll() is None  # still playing
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert late - early < 50, (early, late)  # ~30 frames/s of 500x500 RGB would add 40 MiB/s
    assert process.returncode == 130, output
    assert "interrupted; " in output and "was not written" in output
    assert not video.exists() and list(video.parent.iterdir()) == []
