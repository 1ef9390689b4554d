"""The off-policy training loop for one seed: act, step, store, update, log, evaluate, checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlpipe.algos import build_agent, squashes_actions
from rlpipe.buffers import ReplayBuffer
from rlpipe.envs import EnvShapes, env_shapes, learning_terminals, make_vec_env, next_observations
from rlpipe.fast import accelerate
from rlpipe.onpolicy import train_onpolicy
from rlpipe.seedloop import (
    COLUMNS,
    EVAL_SEED_OFFSET,
    SeedLoop,
    SeedProgress,
    evaluate,
    finished_result,
    seed_everything,
)
from rlpipe.spec.schema import ON_POLICY, Spec


def replay_buffer_for(
    spec: Spec, shapes: EnvShapes, device: torch.device, capacity: int
) -> ReplayBuffer:
    """The replay buffer for a spec: memory.capacity, or fewer if the run needs fewer."""
    return ReplayBuffer(
        min(spec.memory.capacity, capacity),
        shapes.obs_shape,
        shapes.action_shape,
        device,
        obs_dtype=torch.uint8 if shapes.obs_dtype == np.uint8 else torch.float32,
        action_dtype=torch.long if shapes.discrete else torch.float32,
    )


def collect(
    agent: Any, envs: Any, buffer: ReplayBuffer, obs: np.ndarray, random_actions: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """Act (uniformly at random before learning starts), step every env, store the step."""
    actions = envs.action_space.sample() if random_actions else agent.act(obs)
    next_obs, rewards, terminated, _, info = envs.step(actions)
    terminal = learning_terminals(terminated, info)
    buffer.add(obs, actions, rewards, next_observations(next_obs, info), terminal)
    agent.observe(next_obs)
    return next_obs, info


def updates_due(debt: float, utd: float, frames: int) -> tuple[int, float]:
    """Whole updates owed after `frames` more env frames at `utd` updates per frame, and the
    fraction carried to the next step (so utd < 1 and num_envs > 1 both come out exact)."""
    debt += utd * frames
    return int(debt), debt - int(debt)


def train_seed(
    spec: Spec,
    seed: int,
    seed_dir: Path,
    device: torch.device,
    resume: bool = False,
    profile: bool = False,
    report: Callable[[SeedProgress], None] = lambda _: None,
    artifact_dir: Path | None = None,
    compile: bool = False,
) -> dict[str, Any]:
    """Train one seed into seed_dir and return its result (written to result.json too).

    On-policy algorithms (PPO, A2C) run the loop in rlpipe/onpolicy.py, with the same files.

    Weights and resume checkpoints go to artifact_dir (default: seed_dir), so a pipeline can
    keep the small files in git and the large ones in a cache.
    """
    if spec.algorithm.name in ON_POLICY:
        return train_onpolicy(spec, seed, seed_dir, device, resume, profile, report, artifact_dir)
    artifact_dir = artifact_dir or seed_dir
    if (done := finished_result(seed_dir, resume)) is not None:
        return done
    algo, meta, max_frame = spec.algorithm, spec.meta, spec.env.max_frame
    seed_everything(seed)
    rescale = squashes_actions(spec)
    envs = make_vec_env(spec.env, seed, training=True, rescale_actions=rescale)
    eval_envs = make_vec_env(
        spec.env, seed + EVAL_SEED_OFFSET, num_envs=meta.eval_episodes, rescale_actions=rescale
    )
    shapes = env_shapes(envs)
    agent = accelerate(build_agent(spec, shapes, device), compile)
    buffer = replay_buffer_for(spec, shapes, device, capacity=max_frame)
    generator = torch.Generator(device=device).manual_seed(seed)
    run = SeedLoop(spec, seed, seed_dir, artifact_dir, COLUMNS, report, profile, device,
                   update_debt=0.0)  # fmt: skip
    if (saved := run.resume(resume)) is not None:
        agent.load_state_dict(saved["agent"])
        buffer.load_state_dict(saved["buffer"])
        generator.set_state(saved["rng"]["sampler"])
        envs.action_space.np_random.bit_generator.state = saved["rng"]["action_space"]

    def checkpoint() -> dict[str, Any]:
        return {
            "agent": agent.state_dict(),
            "buffer": buffer.state_dict(),
            "rng": {
                "sampler": generator.get_state(),
                "action_space": envs.action_space.np_random.bit_generator.state,
            },
        }

    frame = run.state["frame"]
    # Env states are not checkpointed: on resume the interrupted episodes restart, seeded by
    # the frame so that a resumed run is itself reproducible.
    obs = envs.reset(seed=seed + frame)[0]
    with run:
        while frame < max_frame:
            obs, info = collect(agent, envs, buffer, obs, frame < algo.learning_starts)
            run.episodes_ended(info)
            frame += envs.num_envs
            if frame > algo.learning_starts:
                n_updates, run.state["update_debt"] = updates_due(
                    run.state["update_debt"], algo.utd, envs.num_envs
                )
                for _ in range(n_updates):
                    run.stats.add(agent.update(buffer.sample(algo.batch_size, generator)))
                run.profile_step(frame)
            if run.log_due(frame):
                run.log(frame, lambda: evaluate(agent, eval_envs, seed + EVAL_SEED_OFFSET),
                        checkpoint)  # fmt: skip
    envs.close()
    eval_envs.close()
    return run.finish(frame, agent)
