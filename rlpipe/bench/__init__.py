"""`rlpipe bench`: training speed of a spec, alone or side by side with Stable-Baselines3."""
