"""`rlpipe enjoy`: play a run's trained policy, episode by episode, optionally onto a video.

The env is built exactly as training and evaluation build it (rlpipe.envs.make_vec_env, with
every wrapper of the spec), with render_mode="rgb_array" added to its kwargs when recording;
its one env is wrapped in gymnasium's RecordVideo. The agent is rebuilt from the spec and loads
the seed's final weights, observation-normalisation statistics included. Episode i of seed K
starts from env seed eval_seed(K) + i, the starting state of `rlpipe eval`'s episode i.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from rlpipe.algos.registry import algorithm
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.loops.evaluate import MAX_EVAL_STEPS, eval_seed
from rlpipe.policy import seed_policy
from rlpipe.rundir import RunFolder
from rlpipe.watch.headless import prepare_rendering
from rlpipe.watch.video import VideoStream, check_video_support, recording

if TYPE_CHECKING:
    from gymnasium.vector import SyncVectorEnv

DEFAULT_FPS = 30


@dataclass(frozen=True)
class Episode:
    """One played episode: its env seed, return (the env's own rewards) and length in steps."""

    index: int
    env_seed: int
    episode_return: float
    length: int
    cut: bool  # stopped at max_steps before the episode ended


@dataclass(frozen=True)
class Replay:
    """What `play_run` played: which seed's weights, the episodes, and the video if any."""

    seed: int
    deterministic: bool
    episodes: tuple[Episode, ...]
    video: Path | None
    frames: int  # frames in the video (0 without one)
    fps: float


def _video_fps(env: Any, spec: Any) -> float:
    """Frames per second of the replay: the env's render_fps, per agent step (Atari skips
    frame_skip emulator frames per step, each of which render_fps counts)."""
    fps = float(env.metadata.get("render_fps") or DEFAULT_FPS)
    if spec.env.atari is not None:
        fps /= spec.env.atari.frame_skip
    return fps


def play_run(
    run: RunFolder,
    seed: int | None = None,
    episodes: int = 1,
    deterministic: bool = True,
    video: Path | None = None,
    max_steps: int | None = None,
    device: torch.device | None = None,
    on_episode: Callable[[Episode], None] | None = None,
) -> Replay:
    """Play `episodes` episodes of one seed's final policy (the run's first seed by default),
    rlpipe's agent or a parity run's twin; with `video`, record them all into one MP4 or GIF.
    Returns what was played."""
    device = device or torch.device("cpu")
    spec = run.read_spec().spec
    seeds = spec.meta.seed_list
    seed = seeds[0] if seed is None else seed
    if seed not in seeds:
        raise RlpipeError(f"{run.path} has no seed {seed}: its seeds are {seeds}")
    if episodes < 1 or (max_steps is not None and max_steps < 1):
        raise RlpipeError("episodes and max_steps must be at least 1")
    env_spec = spec.env
    if video is not None:
        check_video_support(video)
        prepare_rendering(spec.env.id)
        kwargs = {**spec.env.kwargs, "render_mode": "rgb_array"}
        env_spec = spec.env.model_copy(update={"kwargs": kwargs, "vectorization": "sync"})
    first = eval_seed(seed)
    rescale = algorithm(spec.algorithm.name).squashes_actions
    envs = make_vec_env(env_spec, first, num_envs=1, rescale_actions=rescale)
    played = []
    try:
        single = cast("SyncVectorEnv", envs.unwrapped).envs[0]
        fps = _video_fps(single, spec)
        with (
            seed_policy(run, seed, env_shapes(envs), device) as agent,
            recording(video, fps) if video is not None else contextlib.nullcontext() as stream,
            torch.random.fork_rng(),
            torch.no_grad(),
        ):
            torch.manual_seed(first)
            for index in range(episodes):
                episode = _play_episode(
                    agent, single, index, first + index, deterministic, max_steps, stream
                )
                played.append(episode)
                if on_episode is not None:
                    on_episode(episode)
        frames = stream.frames if stream is not None else 0
    except _render_errors() as error:
        raise RlpipeError(f"{spec.env.id} could not render a frame: {error}") from None
    finally:
        envs.close()
    return Replay(seed, deterministic, tuple(played), video, frames, fps)


def _play_episode(
    agent: Any,
    env: Any,
    index: int,
    env_seed: int,
    deterministic: bool,
    max_steps: int | None,
    stream: VideoStream | None,
) -> Episode:
    """One episode, cut at max_steps (MAX_EVAL_STEPS without one: an episode that never ends
    would play forever); with a stream, each rendered frame goes into it as it is drawn."""
    limit = MAX_EVAL_STEPS if max_steps is None else max_steps
    obs, _ = env.reset(seed=env_seed)
    if stream is not None:
        stream.add(env.render())
    total, steps = 0.0, 0
    while True:
        action = agent.act(obs[None], deterministic=deterministic)[0]
        obs, reward, terminated, truncated, _ = env.step(action)
        if stream is not None:
            stream.add(env.render())
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return Episode(index, env_seed, total, steps, cut=False)
        if steps >= limit:
            return Episode(index, env_seed, total, steps, cut=True)


def _render_errors() -> tuple[type[BaseException], ...]:
    """Errors a renderer raises when it cannot draw here (no GL context, a missing library)."""
    import gymnasium as gym

    errors: list[type[BaseException]] = [gym.error.DependencyNotInstalled]
    try:
        import mujoco

        errors.append(mujoco.FatalError)
    except ImportError:
        pass
    return tuple(errors)
