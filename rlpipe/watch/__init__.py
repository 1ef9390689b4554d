"""Watching a trained policy: `rlpipe enjoy` (enjoy.py), replay videos and GIFs (video.py),
rendering without a display (headless.py)."""
