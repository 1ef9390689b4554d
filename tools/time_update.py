"""Time `agent.update` alone (no env, no sampling) on one fixed batch, eager vs compiled.

    python tools/time_update.py crossq hopper -s 'algorithm.critic.hidden=[256, 256]'

The figures behind `rlpipe.fast.compile_by_default`; `rlpipe bench` times whole training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from rlpipe import fast
from rlpipe.algos.registry import algorithm, build_agent
from rlpipe.buffers import Batch
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.spec import resolve_spec


def time_update(spec, compile: bool, warmup: int, updates: int) -> float:
    """Milliseconds per update, after warm-up updates (compilation happens there)."""
    envs = make_vec_env(
        spec.env, 0, rescale_actions=algorithm(spec.algorithm.name).squashes_actions
    )
    shapes = env_shapes(envs)
    envs.close()
    torch.manual_seed(0)
    agent = fast.accelerate(build_agent(spec, shapes, torch.device("cpu")), compile)
    g = torch.Generator().manual_seed(0)
    n, obs_dim = spec.algorithm.batch_size, int(np.prod(shapes.obs_shape))
    batch = Batch(
        obs=torch.randn(n, obs_dim, generator=g),
        actions=torch.rand(n, *shapes.action_shape, generator=g) * 2 - 1,
        rewards=torch.randn(n, generator=g),
        next_obs=torch.randn(n, obs_dim, generator=g),
        terminated=torch.zeros(n),
    )
    for _ in range(warmup):
        agent.update(batch)
    start = time.perf_counter()
    for _ in range(updates):
        agent.update(batch)
    return (time.perf_counter() - start) / updates * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("family")
    parser.add_argument("spec")
    parser.add_argument("-s", "--set", action="append", default=[], dest="overrides")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = resolve_spec(args.family, args.spec, args.overrides, Path("pipelines")).spec
    for round_ in range(args.rounds):
        for compile in (False, True):
            ms = time_update(spec, compile, args.warmup, args.updates)
            mode = "compiled" if compile else "eager"
            print(f"round {round_}: {mode:8s} {ms:6.2f} ms/update ({args.threads} threads)")


if __name__ == "__main__":
    main()
