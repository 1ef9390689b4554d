"""Replay files: rendered frames streamed into an MP4 or GIF as they are played.

MP4 is encoded by the ffmpeg binary that the imageio-ffmpeg wheel ships (no system ffmpeg), frame
by frame, so memory stays flat however long the replay; GIF by Pillow, scaled down for embedding
as frames arrive and capped at GIF_MAX_FRAMES. (gymnasium's RecordVideo keeps every frame in
memory and hands them to moviepy, which drops the last one when frames / fps is not a whole
number of seconds.)
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rlpipe.errors import RlpipeError

if TYPE_CHECKING:
    from PIL import Image

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
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise RlpipeError(f"--video {path}: {parent} is a file, not a folder")
    if path.is_dir():
        raise RlpipeError(f"--video {path} is a folder; name a file in it")


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


GIF_MAX_FRAMES = 6000
"""Most frames a GIF holds (they are kept, downscaled, until the file is written): GIFs are
short replays; a longer recording is an MP4, whose frames stream to the encoder."""


class _GifFrames:
    """Frames of a GIF, downscaled as they arrive, written when the recording ends."""

    def __init__(self, path: Path, fps: float) -> None:
        self.images: list[Image.Image]
        self.path, self.fps, self.images = path, fps, []

    def add(self, frame: np.ndarray) -> None:
        from PIL import Image

        if len(self.images) >= GIF_MAX_FRAMES:
            raise RlpipeError(
                f"a GIF holds at most {GIF_MAX_FRAMES:,} frames; record this replay as an .mp4, "
                "or shorten it with --max-steps"
            )
        height, width = frame.shape[:2]
        scale = min(1.0, GIF_MAX_SIDE / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
        self.images.append(image.resize(size, Image.Resampling.BILINEAR))

    def abort(self) -> None:
        self.images = []

    def close(self) -> None:
        # Pillow folds a frame identical to the one before into it, adding up their durations.
        self.images[0].save(
            self.path,
            format="GIF",
            save_all=True,
            append_images=self.images[1:],
            duration=gif_durations(len(self.images), self.fps),
            loop=0,
            optimize=False,
        )


class _Mp4Frames:
    """Frames streamed to ffmpeg (H.264) as they arrive: memory stays flat however long."""

    def __init__(self, path: Path, fps: float) -> None:
        self.writer: Generator[None, np.ndarray | None, None] | None
        self.path, self.fps, self.writer, self.even = path, fps, None, (0, 0)

    def add(self, frame: np.ndarray) -> None:
        import imageio_ffmpeg

        if self.writer is None:
            height, width = frame.shape[:2]
            self.even = (height - height % 2, width - width % 2)  # yuv420p needs even sides
            self.writer = imageio_ffmpeg.write_frames(
                str(self.path),
                (self.even[1], self.even[0]),
                fps=self.fps,
                codec="libx264",
                pix_fmt_out="yuv420p",
                macro_block_size=1,
                output_params=["-preset", "veryfast"],
                ffmpeg_log_level="error",
            )
            self.writer.send(None)  # start ffmpeg
        height, width = self.even
        self.writer.send(np.ascontiguousarray(frame[:height, :width, :3]))

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def check(self, shown: Path, frames: int) -> None:
        """Raise RlpipeError unless the finished file decodes to all `frames`: imageio-ffmpeg
        does not check ffmpeg's exit on close, when the encoder flushes its buffered frames
        and writes the MP4 index (a full disk there leaves a broken file and no error)."""
        import imageio_ffmpeg

        try:
            counted, _ = imageio_ffmpeg.count_frames_and_secs(str(self.path))
        except (RuntimeError, OSError) as error:
            reason = " ".join(str(error).split())[:200]
            raise RlpipeError(
                f"could not write {shown}: ffmpeg left no readable video ({reason})"
            ) from None
        if counted != frames:
            raise RlpipeError(
                f"could not write {shown}: ffmpeg wrote {counted} of {frames} frames (is the disk "
                "full?)"
            )


class VideoStream:
    """Where `recording` puts frames: add them one by one."""

    def __init__(self, sink: _GifFrames | _Mp4Frames) -> None:
        self.sink, self.frames = sink, 0

    def add(self, frame: np.ndarray) -> None:
        """Append one RGB frame (height, width, 3 uint8)."""
        self.sink.add(frame)
        self.frames += 1


@contextlib.contextmanager
def recording(path: Path, fps: float) -> Iterator[VideoStream]:
    """A stream of frames written as an MP4 or GIF by the path's suffix; the file appears
    (atomically) only when the block ends without an error."""
    check_video_support(path)
    with _replacing(path) as temp:
        gif = path.suffix.lower() == ".gif"
        stream = VideoStream(_GifFrames(temp, fps) if gif else _Mp4Frames(temp, fps))
        try:
            yield stream
            if not stream.frames:
                raise RlpipeError(f"no frames were rendered for {path}")
        except BaseException:
            stream.sink.abort()
            raise
        stream.sink.close()
        if isinstance(stream.sink, _Mp4Frames):
            stream.sink.check(path, stream.frames)


def write_video(frames: Sequence[np.ndarray], path: Path, fps: float) -> None:
    """Write RGB frames (height, width, 3 uint8) as an MP4 or GIF, by path's suffix, atomically."""
    with recording(path, fps) as stream:
        for frame in frames:
            stream.add(frame)
