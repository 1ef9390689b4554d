"""torch.profiler over a short window of training, written as a Chrome trace."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from rlpipe.rundir import atomic_write_text


class WindowProfiler:
    """Profile the first `frames` env frames after it starts, then write the trace."""

    def __init__(self, trace_path: Path, device: torch.device, frames: int = 200) -> None:
        self.trace_path = trace_path
        self.frames = frames
        activities = [ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        self._profile = profile(activities=activities)
        self._start_frame: int | None = None
        self.done = False

    def step(self, frame: int) -> None:
        """Call once per env step while updates run; starts and stops the window."""
        if self.done:
            return
        if self._start_frame is None:
            self._start_frame = frame
            self._profile.__enter__()
        elif frame - self._start_frame >= self.frames:
            self.close()

    def close(self) -> None:
        """Stop profiling (if started) and write the trace atomically."""
        if self._start_frame is None or self.done:
            return
        self._profile.__exit__(None, None, None)
        tmp = self.trace_path.with_suffix(".tmp.json")
        self._profile.export_chrome_trace(str(tmp))
        atomic_write_text(self.trace_path, tmp.read_text())
        tmp.unlink()
        self.done = True
