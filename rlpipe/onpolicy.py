"""The on-policy training loop for one seed (PPO, A2C): rollout, GAE, update, log, checkpoint.

It writes the same run-folder files as the off-policy loop in rlpipe/train.py: metrics.csv
(train.COLUMNS, blank where they do not apply, plus the PPO diagnostics in EXTRA_COLUMNS),
result.json, model.pt and resumable checkpoints, with the same NaN guard and progress
reports. Rows are logged between rollouts, at the first rollout that reaches each
log_interval; the last rollout is cut short so that no more than max_frame frames are used
(up to num_envs - 1 more when max_frame is not a multiple of num_envs).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlpipe.algos import build_agent
from rlpipe.algos.ppo import PPO
from rlpipe.buffers import RolloutBuffer
from rlpipe.envs import env_shapes, finished_returns, learning_terminals, make_vec_env
from rlpipe.normalize import ObsNormalizer
from rlpipe.profiling import WindowProfiler
from rlpipe.runs import (
    CHECKPOINT_DIR,
    METRICS_FILE,
    MODEL_FILE,
    MetricsLog,
    atomic_torch_save,
    atomic_write_json,
    truncate_after,
)
from rlpipe.spec.schema import Spec
from rlpipe.train import (
    CHECKPOINT_FILE,
    COLUMNS,
    EVAL_SEED_OFFSET,
    LOSS_COLUMNS,
    RESULT_FILE,
    NonFiniteLoss,
    SeedProgress,
    StatAccumulator,
    _mean,
    _seed_everything,
    evaluate,
)

EXTRA_COLUMNS = ("approx_kl", "clip_fraction", "lr")
ON_POLICY_COLUMNS = COLUMNS + EXTRA_COLUMNS


class RewardScaler:
    """Divides rewards by the running std of the discounted return (SB3's VecNormalize).

    Only training rewards are scaled; reported returns come from the env, unscaled.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0) -> None:
        self.gamma = gamma
        self.clip = clip
        self.returns = np.zeros(num_envs)
        self.stats = ObsNormalizer(())

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Scaled rewards; the discounted returns restart where an episode ended."""
        self.returns = self.returns * self.gamma + rewards
        self.stats.update(torch.as_tensor(self.returns))
        scaled = rewards / np.sqrt(self.stats.var.item() + self.stats.eps)
        self.returns[dones] = 0.0
        return np.clip(scaled, -self.clip, self.clip)

    def state_dict(self) -> dict[str, Any]:
        """Running statistics and the per-env discounted returns."""
        return {"stats": self.stats.state_dict(), "returns": self.returns.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved."""
        self.stats.load_state_dict(state["stats"])
        self.returns = state["returns"].copy()


def train_onpolicy(
    spec: Spec,
    seed: int,
    seed_dir: Path,
    device: torch.device,
    resume: bool = False,
    profile: bool = False,
    report: Callable[[SeedProgress], None] = lambda _: None,
    artifact_dir: Path | None = None,
) -> dict[str, Any]:
    """Train one seed of an on-policy spec into seed_dir; returns its result (result.json)."""
    artifact_dir = artifact_dir or seed_dir
    result_path = seed_dir / RESULT_FILE
    if resume and result_path.is_file():
        return json.loads(result_path.read_text())
    seed_dir.mkdir(parents=True, exist_ok=True)
    algo, meta, max_frame = spec.algorithm, spec.meta, spec.env.max_frame
    _seed_everything(seed)
    envs = make_vec_env(spec.env, seed, training=True)
    eval_envs = make_vec_env(spec.env, seed + EVAL_SEED_OFFSET, num_envs=meta.eval_episodes)
    shapes = env_shapes(envs)
    agent: PPO = build_agent(spec, shapes, device)
    num_envs = envs.num_envs
    rollout = RolloutBuffer(
        algo.num_steps,
        num_envs,
        shapes.obs_shape,
        shapes.action_shape,
        device,
        obs_dtype=torch.uint8 if agent.image else torch.float32,
        action_dtype=torch.long if shapes.discrete else torch.float32,
    )
    reward_scaler = RewardScaler(num_envs, algo.gamma) if algo.normalize_reward else None
    generator = torch.Generator(device=device).manual_seed(seed)
    checkpoint_path = artifact_dir / CHECKPOINT_DIR / CHECKPOINT_FILE
    metrics_path = seed_dir / METRICS_FILE

    loop = {"frame": 0, "wall_offset": 0.0, "episodes": 0, "eval": None}
    recent: deque[float] = deque(maxlen=meta.return_window)
    if resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        agent.load_state_dict(state["agent"])
        generator.set_state(state["rng"]["sampler"])
        torch.set_rng_state(state["rng"]["torch"])
        if reward_scaler is not None:
            reward_scaler.load_state_dict(state["reward_scaler"])
        loop = state["loop"]
        recent.extend(state["recent_returns"])
        truncate_after(metrics_path, loop["frame"])
    elif metrics_path.exists():
        truncate_after(metrics_path, 0)

    def save_checkpoint(frame: int) -> None:
        atomic_torch_save(
            {
                "agent": agent.state_dict(),
                "rng": {"sampler": generator.get_state(), "torch": torch.get_rng_state()},
                "reward_scaler": reward_scaler and reward_scaler.state_dict(),
                "loop": {**loop, "frame": frame},
                "recent_returns": list(recent),
            },
            checkpoint_path,
        )

    def bootstrap_truncated(rewards: np.ndarray, cut: np.ndarray, info: dict) -> np.ndarray:
        """Fold gamma V(final obs) into the reward of episodes cut by a time limit."""
        final = agent.preprocess(np.stack(info["final_obs"][cut]))
        rewards = rewards.copy()
        rewards[cut] += algo.gamma * agent.value(final).cpu().numpy()
        return rewards

    frame = loop["frame"]
    next_log = (frame // meta.log_interval + 1) * meta.log_interval
    next_eval = (frame // meta.eval_interval + 1) * meta.eval_interval
    next_checkpoint = (frame // meta.checkpoint_interval + 1) * meta.checkpoint_interval
    last_checkpoint = frame
    stats = StatAccumulator()
    profiler = WindowProfiler(artifact_dir / "profile.json", device) if profile else None
    # Env states are not checkpointed: on resume the interrupted episodes restart, seeded by
    # the frame so that a resumed run is itself reproducible.
    obs = envs.reset(seed=seed + frame)[0]
    start, last_log_time, last_log_frame = time.perf_counter(), time.perf_counter(), frame
    finished_since_log: list[float] = []

    with MetricsLog(metrics_path, ON_POLICY_COLUMNS) as metrics:
        while frame < max_frame:
            progress_remaining = 1.0 - frame / max_frame
            steps = min(algo.num_steps, math.ceil((max_frame - frame) / num_envs))
            rollout.reset()
            for _ in range(steps):
                x = agent.preprocess(obs)
                actions, logprobs, values = agent.sample(x)
                obs, rewards, terminated, truncated, info = envs.step(agent.env_actions(actions))
                agent.observe(obs)
                terminal = learning_terminals(terminated, info)
                dones = terminal | truncated
                rewards = rewards.astype(np.float32)
                if reward_scaler is not None:
                    rewards = reward_scaler(rewards, dones)
                cut = truncated & ~terminal
                if cut.any():
                    rewards = bootstrap_truncated(rewards, cut, info)
                rollout.add(x, actions, logprobs, rewards, values, dones)
                returns = finished_returns(info)
                recent.extend(returns)
                finished_since_log.extend(returns)
                loop["episodes"] += len(returns)
                frame += num_envs
            advantages, returns = rollout.compute_gae(
                agent.value(agent.preprocess(obs)), algo.gamma, algo.gae_lambda
            )
            stats.add(agent.update(rollout, advantages, returns, generator, progress_remaining))
            if profiler is not None:
                profiler.step(frame)

            if frame < next_log and frame < max_frame:
                continue
            eval_return = None
            if frame >= next_eval or frame >= max_frame:
                eval_return = evaluate(agent, eval_envs, seed + EVAL_SEED_OFFSET)
                loop["eval"] = eval_return
                next_eval = (frame // meta.eval_interval + 1) * meta.eval_interval
            now = time.perf_counter()
            means = stats.read()
            for key in LOSS_COLUMNS:
                if key in means and not math.isfinite(means[key]):
                    raise NonFiniteLoss(
                        f"{key} became {means[key]} between frames {last_log_frame} and {frame} "
                        f"(seed {seed}); stopped. The last good checkpoint (frame "
                        f"{last_checkpoint}) is kept in {checkpoint_path.parent}"
                    )
            row = {
                "frame": frame,
                "wall_s": loop["wall_offset"] + now - start,
                "fps": (frame - last_log_frame) / max(now - last_log_time, 1e-9),
                "episodes": loop["episodes"],
                "return_mean": _mean(finished_since_log),
                "return_ma": _mean(recent),
                "eval_return": eval_return,
                **means,
            }
            metrics.append(row)
            report(SeedProgress(seed, frame, max_frame, row["fps"], row["return_ma"], loop["eval"]))
            finished_since_log.clear()
            last_log_time, last_log_frame = now, frame
            next_log = (frame // meta.log_interval + 1) * meta.log_interval
            if frame >= next_checkpoint and frame < max_frame:
                loop["wall_offset"] += now - start
                start = now
                save_checkpoint(frame)
                last_checkpoint = frame
                next_checkpoint = (frame // meta.checkpoint_interval + 1) * meta.checkpoint_interval

    if profiler is not None:
        profiler.close()
    envs.close()
    eval_envs.close()
    wall_s = loop["wall_offset"] + time.perf_counter() - start
    atomic_torch_save(agent.state_dict(with_optimizers=False), artifact_dir / MODEL_FILE)
    result = {
        "seed": seed,
        "return_ma": _mean(recent),
        "eval_return": loop["eval"],
        "frames": frame,
        "wall_s": wall_s,
        "fps": frame / max(wall_s, 1e-9),
    }
    atomic_write_json(result_path, result)
    return result
