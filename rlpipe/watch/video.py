"""Replay files: frames recorded by gymnasium's RecordVideo, written as MP4 or GIF.

MP4 is encoded by the ffmpeg binary that the imageio-ffmpeg wheel ships (no system ffmpeg);
GIF by Pillow, scaled down for embedding. RecordVideo would hand its frames to moviepy, which
drops the last frame when frames / fps is not a whole number of seconds (402 frames at 30 fps
come out as 401), so the recorder below passes them to these writers instead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlpipe.errors import RlpipeError

VIDEO_SUFFIXES = (".mp4", ".gif")
SHORT_REPLAY_STEPS = 300
"""Steps of the short replays on model cards and in BENCHMARKS.md: a GIF, not a whole game."""
GIF_MAX_SIDE = 320
"""Longest side of a GIF frame in pixels: GIFs are for embedding in pages and model cards."""
_INSTALL = "pip install 'rlpipe[video]'"


def check_video_path(path: Path) -> None:
    """Raise RlpipeError unless path ends in a suffix a replay can be written as."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise RlpipeError(
            f"--video {path}: the file name must end in {' or '.join(VIDEO_SUFFIXES)} (MP4 video "
            "or animated GIF)"
        )


def check_video_support(path: Path) -> None:
    """Raise RlpipeError naming the extra to install if the writer of path's format is missing."""
    check_video_path(path)
    needed = ["moviepy"] + (["imageio_ffmpeg"] if path.suffix.lower() == ".mp4" else [])
    for module in needed:  # moviepy: RecordVideo refuses to start without it
        try:
            __import__(module)
        except ImportError:
            raise RlpipeError(f"writing {path} needs {module}: {_INSTALL}") from None


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temp path beside `path` (same suffix) that replaces it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}{path.suffix}"
    try:
        yield temp
        os.replace(temp, path)
    except OSError as error:
        raise RlpipeError(f"could not write {path}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def gif_durations(frames: int, fps: float) -> list[int]:
    """Per-frame GIF durations in ms, in the format's 10 ms steps, that add up to frames / fps
    (30 fps alternates 30 and 40 ms, where a constant 30 ms would play 10% fast)."""
    ends = [round((index + 1) * 100 / fps) * 10 for index in range(frames)]
    return [end - start for start, end in zip([0, *ends[:-1]], ends, strict=True)]


def _write_gif(frames: Sequence[np.ndarray], path: Path, fps: float) -> None:
    from PIL import Image

    height, width = frames[0].shape[:2]
    scale = min(1.0, GIF_MAX_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    images = [Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR) for frame in frames]
    # Pillow folds a frame identical to the one before into it, adding up their durations.
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=gif_durations(len(images), fps),
        loop=0,
        optimize=False,
    )


def _write_mp4(frames: Sequence[np.ndarray], path: Path, fps: float) -> None:
    import imageio_ffmpeg

    height, width = frames[0].shape[:2]
    even = (height - height % 2, width - width % 2)  # H.264 in yuv420p needs even sides
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (even[1], even[0]),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        output_params=["-preset", "veryfast"],
        ffmpeg_log_level="error",
    )
    writer.send(None)  # start ffmpeg
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame[: even[0], : even[1], :3]))
    finally:
        writer.close()


def write_video(frames: Sequence[np.ndarray], path: Path, fps: float) -> None:
    """Write RGB frames (height, width, 3 uint8) as an MP4 or GIF, by path's suffix, atomically."""
    check_video_support(path)
    if not frames:
        raise RlpipeError(f"no frames were rendered for {path}")
    with _replacing(path) as temp:
        if path.suffix.lower() == ".gif":
            _write_gif(frames, temp, fps)
        else:
            _write_mp4(frames, temp, fps)


def frame_recorder(env: Any, fps: float) -> Any:
    """gymnasium's RecordVideo around env, recording every frame of every episode until
    `take_frames()` (nothing is written by the wrapper itself)."""
    import tempfile

    from gymnasium.wrappers import RecordVideo

    class FrameRecorder(RecordVideo):
        """RecordVideo whose one recording spans all episodes and stays in memory."""

        def stop_recording(self) -> None:
            self.recording = False

        def take_frames(self) -> list[np.ndarray]:
            """The frames recorded so far (one at each reset, one after each step), handed
            over: the wrapper keeps none."""
            frames, self.recorded_frames = self.recorded_frames, []
            return frames

    with tempfile.TemporaryDirectory() as unused:  # RecordVideo creates its folder; not used
        return FrameRecorder(
            env,
            video_folder=str(Path(unused, "videos")),
            episode_trigger=lambda episode: episode == 0,
            video_length=sys.maxsize,  # not 0 (one file per episode): one recording for all
            fps=fps,
            disable_logger=True,
        )
