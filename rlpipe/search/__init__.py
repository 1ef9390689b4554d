"""Hyperparameter search with Optuna: each trial an ordinary `rlpipe train` run folder."""
