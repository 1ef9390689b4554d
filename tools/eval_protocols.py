"""Evaluate a run's saved weights under two evaluation protocols, to compare like with like.

    python tools/eval_protocols.py /tmp/crossq-pendulum --seeds 0 1 --episodes 10 100

Per seed, the mean return of the deterministic policy over:
- rlpipe's protocol (`rlpipe eval`): N eval envs reset with seeds eval_seed(s)+i, one
  episode each;
- the protocol of tools/sb3_crossq_pendulum.py: one env reset once with seed s+1_000_003,
  then N episodes in a row, as SB3's evaluate_policy draws them from that env's stream.
On Pendulum-v1 the initial state decides much of an episode's return, so two protocols can
score the same policy differently; the second one puts rlpipe's policies on the initial
states that sb3-contrib's were scored on.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from rlpipe.algos.registry import algorithm, build_agent
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.loops.evaluate import eval_seed, evaluate
from rlpipe.rundir import RunFolder

SB3_SCRIPT_EVAL_OFFSET = 1_000_003  # tools/sb3_crossq_pendulum.py seeds its eval env s + this


def squashes_actions(spec) -> bool:
    return algorithm(spec.algorithm.name).squashes_actions


def sequential_return(agent, spec, seed: int, episodes: int) -> float:
    """Mean return of `episodes` episodes in a row in one env seeded once, as SB3 draws them."""
    envs = make_vec_env(spec.env, seed, num_envs=1, rescale_actions=squashes_actions(spec))
    envs.reset(seed=seed)  # the SB3 script's own reset: evaluate_policy starts after it
    obs, _ = envs.reset()
    returns, episode_return = [], 0.0
    while len(returns) < episodes:
        obs, rewards, terminated, truncated, _ = envs.step(agent.act(obs, deterministic=True))
        episode_return += float(rewards[0])
        if terminated[0] or truncated[0]:
            returns.append(episode_return)
            episode_return = 0.0
    envs.close()
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--episodes", type=int, nargs="+", default=[10])
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = RunFolder(args.run_dir)
    spec = run.read_spec().spec
    seeds = args.seeds or spec.meta.seed_list
    for episodes in args.episodes:
        for name in ("rlpipe", "sb3"):
            scores = []
            for seed in seeds:
                first_eval_seed = eval_seed(seed)
                envs = make_vec_env(spec.env, first_eval_seed, num_envs=episodes,
                                    rescale_actions=squashes_actions(spec))  # fmt: skip
                agent = build_agent(spec, env_shapes(envs), torch.device("cpu"))
                agent.load_state_dict(run.seed(seed).load_weights("cpu"))
                if name == "rlpipe":
                    scores.append(evaluate(agent, envs, first_eval_seed))
                else:
                    sb3_seed = seed + SB3_SCRIPT_EVAL_OFFSET
                    scores.append(sequential_return(agent, spec, sb3_seed, episodes))
                envs.close()
            per_seed = ", ".join(f"{s:.1f}" for s in scores)
            print(
                f"{name} protocol, {episodes} episodes: {per_seed} (mean {statistics.fmean(scores):.1f})"
            )


if __name__ == "__main__":
    main()
