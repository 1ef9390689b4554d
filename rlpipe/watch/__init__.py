"""Watching a trained policy: `rlpipe enjoy`, replay videos and GIFs, headless rendering."""

from rlpipe.watch.enjoy import Episode, Replay, play_run
from rlpipe.watch.video import VIDEO_SUFFIXES, write_video

__all__ = ["VIDEO_SUFFIXES", "Episode", "Replay", "play_run", "write_video"]
