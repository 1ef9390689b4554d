"""One seed of a spec's SB3 twin, trained into an ordinary run folder, and its evaluation.

SB3's `learn()` trains; rlpipe's `SeedLoop` keeps the books exactly as for rlpipe's own agents:
the same metrics.csv columns and log points, the training-return moving average over the same
window of episodes, evaluation by rlpipe's `evaluate` on rlpipe's eval envs (through
`TwinAgent.act`), the same result.json and weights file. Rows are written between SB3's rollouts,
so a row sees every update of the frames before it, as in rlpipe's loops.

A peer run keeps no resume checkpoints: SB3's replay buffer, optimisers and generators are not
saved mid-run, so an interrupted peer seed trains again from its start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rlpipe.algos.registry import algorithm
from rlpipe.envs import make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.loops.evaluate import eval_seed, evaluate
from rlpipe.loops.seedloop import SeedLoop
from rlpipe.loops.session import SeedJob
from rlpipe.peers.sb3 import build_model, sb3_env
from rlpipe.spec.schema import Spec

if TYPE_CHECKING:
    from gymnasium import spaces
    from stable_baselines3.common.running_mean_std import RunningMeanStd


class TwinAgent:
    """An SB3 model as rlpipe's evaluation and SeedLoop see an agent: actions for raw env
    observations (normalised with the training envs' statistics, if any) and its weights.

    A DQN spec's evaluation policy is epsilon-greedy with its eval_epsilon, as rlpipe's DQN
    evaluates (SB3's deterministic predict is greedy); the random actions come from a generator
    seeded with `seed`."""

    def __init__(self, model: BaseAlgorithm, env: VecEnv, spec: Spec, seed: int) -> None:
        self.model = model
        normalizer = env if isinstance(env, VecNormalize) else None
        self.normalizer = normalizer if normalizer is not None and normalizer.norm_obs else None
        self.eval_epsilon = getattr(spec.algorithm, "eval_epsilon", 0.0)
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of raw observations from the env."""
        if self.normalizer is not None:
            obs = self.normalizer.normalize_obs(obs)
        actions = self.model.predict(obs, deterministic=deterministic)[0]
        if deterministic and self.eval_epsilon > 0:
            space = cast("spaces.Discrete", self.model.action_space)
            explore = self.rng.random(len(actions)) < self.eval_epsilon
            random = self.rng.integers(0, space.n, len(actions))
            actions = np.where(explore, random, actions)
        return actions

    @property
    def updates(self) -> int:
        """Gradient updates made: SB3 counts gradient steps, but PPO's count is in epochs."""
        n_updates = int(self.model._n_updates)
        if isinstance(self.model, PPO):
            rollout = self.model.n_steps * self.model.n_envs
            return n_updates * -(-rollout // self.model.batch_size)
        return n_updates

    def state_dict(self, with_optimizers: bool = False) -> dict[str, Any]:
        """The policy's weights and the observation statistics, as tensors (model.pt loads with
        weights_only). SB3's optimiser states are not kept."""
        weights: dict[str, Any] = {"policy": self.model.policy.state_dict()}
        if self.normalizer is not None:
            stats = cast("RunningMeanStd", self.normalizer.obs_rms)
            weights["obs_rms"] = {
                "mean": torch.as_tensor(stats.mean),
                "var": torch.as_tensor(stats.var),
                "count": torch.tensor(float(stats.count), dtype=torch.float64),
            }
        return weights

    def load_state_dict(self, weights: dict[str, Any]) -> None:
        """Restore what state_dict saved."""
        self.model.policy.load_state_dict(weights["policy"])
        if self.normalizer is not None:
            stats = cast("RunningMeanStd", self.normalizer.obs_rms)
            stats.mean = weights["obs_rms"]["mean"].cpu().numpy()
            stats.var = weights["obs_rms"]["var"].cpu().numpy()
            stats.count = float(weights["obs_rms"]["count"])


def episode_info(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """SB3's per-env infos (VecMonitor's "episode") in the form of a gymnasium vector env's
    info, which the SeedLoop reads finished episodes from."""
    ended = np.array(["episode" in info for info in infos], dtype=bool)
    returns = np.array([info["episode"]["r"] if "episode" in info else 0.0 for info in infos])
    return {"episode": {"r": returns}, "_episode": ended}


def _no_checkpoint() -> dict[str, Any]:
    raise RlpipeError("a peer run keeps no resume checkpoints")


class LoopCallback(BaseCallback):
    """Hands SB3's training to a SeedLoop: episodes after every env step, a metrics row (and an
    evaluation when due) at each log point, taken at the start of a rollout, after the updates
    of the frames before it."""

    def __init__(self, loop: SeedLoop, run_eval: Callable[[], float]) -> None:
        super().__init__()
        self.loop, self.run_eval = loop, run_eval

    def _on_step(self) -> bool:
        self.loop.episodes_ended(episode_info(self.locals["infos"]))
        return True

    def _on_rollout_start(self) -> None:
        frame = self.num_timesteps
        if 0 < frame < self.loop.max_frame and self.loop.log_due(frame):
            self.loop.log(frame, self.run_eval, _no_checkpoint)


def without_checkpoints(spec: Spec) -> Spec:
    """The spec with its checkpoint interval at max_frame: the SeedLoop then writes none."""
    meta = spec.meta.model_copy(update={"checkpoint_interval": spec.env.max_frame})
    return spec.model_copy(update={"meta": meta})


def train_peer_seed(spec: Spec, job: SeedJob) -> dict[str, Any]:
    """Train one seed of the spec's SB3 twin into job.folder; returns its result (result.json)."""
    first_eval_seed = eval_seed(job.seed)
    rescale = algorithm(spec.algorithm.name).squashes_actions
    env = sb3_env(spec, job.seed)
    eval_envs = make_vec_env(
        spec.env, first_eval_seed, num_envs=spec.meta.eval_episodes, rescale_actions=rescale
    )
    try:
        model = build_model(spec, env, job.seed, str(job.device))
        agent = TwinAgent(model, env, spec, first_eval_seed)

        def run_eval() -> float:
            return evaluate(agent, eval_envs, first_eval_seed)

        loop = SeedLoop(without_checkpoints(spec), job.folder, (), job.report, False, job.device,
                        sinks=job.sinks)  # fmt: skip
        loop.resume(False)
        with loop:
            model.learn(
                spec.env.max_frame,
                callback=LoopCallback(loop, run_eval),
                log_interval=None,  # type: ignore[arg-type]  # SB3 annotates int; None (never log) is what its code checks for
            )
            frame = model.num_timesteps
            loop.log(frame, run_eval, _no_checkpoint)
    finally:
        env.close()
        eval_envs.close()
    return loop.finish(frame, agent)
