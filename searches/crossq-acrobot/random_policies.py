"""How often two kinds of random policy reach Acrobot-v1's goal within its 500 steps.

- uniform: a new uniform random action every step, through rlpipe's training vector env
  (4 envs, seed 100), 25,000 vector steps;
- fixed networks: 30 randomly initialised 6-256-256-3 ReLU networks acting by argmax (the same
  network all episode), 4 episodes each, seeds 1000 k + episode.

Run from the repo root: `python searches/crossq-acrobot/random_policies.py`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from rlpipe.envs import finished_returns, make_vec_env
from rlpipe.spec.schema import EnvSpec

TRUNCATED = -500.0


def uniform() -> tuple[int, int]:
    envs = make_vec_env(
        EnvSpec(id="Acrobot-v1", max_frame=100_000, num_envs=4),
        seed=100,
        training=True,
        rescale_actions=True,
    )
    rng = np.random.default_rng(0)
    returns: list[float] = []
    for _ in range(25_000):
        *_, info = envs.step(rng.integers(0, 3, size=4))
        returns += finished_returns(info)
    return sum(r > TRUNCATED for r in returns), len(returns)


def fixed_networks() -> tuple[list[int], int]:
    env = gym.make("Acrobot-v1")
    reached = []
    for k in range(30):
        torch.manual_seed(k)
        net = torch.nn.Sequential(
            torch.nn.Linear(6, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 3),
        )  # fmt: skip
        count = 0
        for episode in range(4):
            obs, _ = env.reset(seed=1000 * k + episode)
            total, done = 0.0, False
            while not done:
                with torch.no_grad():
                    action = int(net(torch.as_tensor(obs, dtype=torch.float32)).argmax())
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            count += total > TRUNCATED
        reached.append(count)
    return reached, 30 * 4


if __name__ == "__main__":
    torch.set_num_threads(1)
    hits, episodes = uniform()
    print(f"uniform random actions: {hits} of {episodes} episodes reached the goal")
    per_network, episodes = fixed_networks()
    print(
        f"fixed random networks (argmax): {sum(per_network)} of {episodes} episodes; "
        f"episodes per network (of 4): {per_network}"
    )
