"""rlpipe's vector envs: episode statistics, action units per algorithm."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlpipe.envs import finished_returns, make_vec_env
from rlpipe.spec.schema import EnvSpec

STAIRCASE = "RlpipeTest/Staircase-v0"


class Staircase(gym.Env):
    """Rewards 1, 2, 3, ... on steps 1, 2, 3, ...; episodes end after 3 and 5 steps in turn.

    With a time limit of 4 steps, every second episode is cut at 4: the episodes' returns
    and lengths are then (6, 3), (10, 4), (6, 3), (10, 4), ... exactly.
    """

    observation_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.episodes = 0
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        self.length = 3 if self.episodes % 2 == 0 else 5
        self.episodes += 1
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), float(self.t), self.t == self.length, False, {}


@pytest.fixture(scope="module", autouse=True)
def registered_test_envs():
    gym.register(STAIRCASE, entry_point=Staircase)
    yield
    del gym.registry[STAIRCASE]


def test_episode_returns_and_lengths_are_exact_for_every_episode_of_every_env():
    # gymnasium 1.1-1.3 dropped the first step of every episode after an env's first one
    # under same-step autoreset (returns 5 and 9, lengths 2 and 3 here); fixed in 1.4.
    spec = EnvSpec(id=STAIRCASE, max_frame=100, num_envs=2, max_episode_steps=4)
    envs = make_vec_env(spec, seed=0)
    returns, lengths = [], []
    for _ in range(3 + 4 + 3 + 4 + 3):
        _, _, _, _, info = envs.step(np.zeros(2, dtype=np.int64))
        returns += finished_returns(info)
        if "_episode" in info:
            lengths += info["episode"]["l"][info["_episode"]].tolist()
    envs.close()
    assert returns == [6.0, 6.0, 10.0, 10.0, 6.0, 6.0, 10.0, 10.0, 6.0, 6.0]
    assert lengths == [3, 3, 4, 4, 3, 3, 4, 4, 3, 3]
