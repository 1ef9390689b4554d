"""rlpipe: traceable deep-RL training and benchmarking from declarative specs."""

__version__ = "0.1.0"
