"""Measure the return of a uniform-random policy on each env of the suite files given, as the CSV
that the report's aggregate normalises with (references/random_scores.csv).

    python tools/random_scores.py params/suite-full.yaml params/suite.yaml \
        --episodes 100 --out references/random_scores.csv

Each env is made with gymnasium.make(env id) (its registered time limit, as rlpipe trains it;
ALE games with their registered v5 settings: frame skip 4, sticky actions 0.25);
episode i is reset with seed i and its actions are action_space.sample() from an action space
seeded with 0, so the same command writes the same file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

from rlpipe.envs import check_env_id
from rlpipe.rundir import atomic_write_text
from rlpipe.spec.suite import load_suite

HEADER = """\
# Return of a uniform-random policy per env: the 0 of the report's normalised scores,
# (score - random) / (target - random). Measured, not copied: each env from gymnasium.make
# (registered time limit), actions from action_space.sample() (seeded 0), episode i reset with
# seed i; random_score is the mean return over the episodes, std its standard deviation.
# Written by: python tools/random_scores.py {suites} --episodes {episodes} --out {out}
env,random_score,std,episodes,source
"""


def random_returns(env_id: str, episodes: int) -> np.ndarray:
    """Return the undiscounted return of `episodes` uniform-random episodes on env_id."""
    check_env_id(env_id)  # registers the ALE games, so that gym.make knows ALE/...-v5
    env = gym.make(env_id)
    env.action_space.seed(0)
    returns = np.zeros(episodes)
    try:
        for episode in range(episodes):
            env.reset(seed=episode)
            done = False
            while not done:
                _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
                returns[episode] += float(reward)
                done = terminated or truncated
    finally:
        env.close()
    return returns


def main(argv: list[str] | None = None) -> int:
    """Measure every env of the suites given and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="+", type=Path, help="suite files whose envs to measure")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("references/random_scores.csv"))
    args = parser.parse_args(argv)
    env_ids = list(
        dict.fromkeys(env.id for path in args.suites for env in load_suite(path).envs.values())
    )
    lines = []
    for env_id in env_ids:
        returns = random_returns(env_id, args.episodes)
        lines.append(
            f"{env_id},{returns.mean():.1f},{returns.std():.1f},{args.episodes},"
            "measured (tools/random_scores.py)"
        )
        print(f"{env_id}: {returns.mean():.1f} ± {returns.std():.1f}", file=sys.stderr)
    suites = " ".join(path.as_posix() for path in args.suites)
    header = HEADER.format(suites=suites, episodes=args.episodes, out=args.out.as_posix())
    atomic_write_text(args.out, header + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
