"""gymnasium vector envs for training and evaluation, built from an EnvSpec."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, SupportsFloat, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation
from gymnasium.wrappers.vector import ClipReward, RecordEpisodeStatistics

from rlpipe.errors import RlpipeError
from rlpipe.spec.schema import AtariSpec, EnvSpec

if TYPE_CHECKING:
    from ale_py.env import AtariEnv

_EXTRA_FOR_ENTRY_POINT = {"box2d": "box2d", "mujoco": "mujoco", "ale_py": "atari"}


@dataclass(frozen=True)
class EnvShapes:
    """What an agent needs to know about an env: observation shape and action space."""

    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype
    discrete: bool
    action_dim: int  # number of actions (discrete) or action vector length (continuous)
    # (low, high) of a continuous action, in the units the agent acts in; None: unbounded
    action_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    @property
    def action_shape(self) -> tuple[int, ...]:
        """Shape of one action as stored in a replay buffer."""
        return () if self.discrete else (self.action_dim,)

    @property
    def image(self) -> bool:
        """Whether observations are stacked uint8 frames (channels, height, width)."""
        return len(self.obs_shape) == 3 and self.obs_dtype == np.uint8


def _register_optional_envs() -> None:
    try:
        import ale_py

        gym.register_envs(ale_py)
    except ImportError:
        pass


def check_env_id(env_id: str) -> None:
    """Raise RlpipeError if gymnasium does not know env_id, suggesting the closest id."""
    _register_optional_envs()
    if env_id in gym.registry:
        return
    if env_id.startswith("ALE/"):
        raise RlpipeError(
            f"{env_id} needs ale-py, which is not installed: pip install 'rlpipe[atari]'"
        )
    match = difflib.get_close_matches(env_id, list(gym.registry), n=1, cutoff=0.6)
    hint = f" (did you mean '{match[0]}'?)" if match else ""
    raise RlpipeError(f"unknown gymnasium env '{env_id}'{hint}")


class LifeLossSignal(gym.Wrapper):
    """Sets info["life_lost"] on a step that costs a life without ending the game.

    This is the episodic-life signal of Mnih et al. (2015) as Dopamine implements it: the
    learner treats a lost life as the end of an episode (no bootstrap), while the game goes
    on, so reported scores are full games. gymnasium's AtariPreprocessing can only end (and
    reset) the game on a lost life, which would make every game a one-life game.
    """

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the game and remember its lives."""
        obs, info = self.env.reset(**kwargs)
        self.lives = info.get("lives", 0)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step, and flag a life lost on this step while the game goes on."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = info.get("lives", 0)
        info["life_lost"] = bool(lives < self.lives and not terminated)
        self.lives = lives
        return obs, reward, terminated, truncated, info


class FireOnReset(gym.Wrapper):
    """Presses FIRE after a reset, and after a lost life if asked, in games that wait for it.

    Breakout, for one, serves no ball until FIRE: a deterministic policy that never presses
    it stalls until the time limit. As SB3's FireResetEnv (which CleanRL uses too): after a
    reset, FIRE, then action 2, resetting again if either ends the game. SB3 resets through
    it after every lost life when episodic life is on; here the game goes on through a lost
    life (see LifeLossSignal), so the same two presses follow a lost life within the step,
    their rewards added to it.
    """

    def __init__(self, env: gym.Env, after_life_loss: bool) -> None:
        super().__init__(env)
        self.after_life_loss = after_life_loss
        self.lives = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the game and start it with FIRE, then action 2."""
        obs, info = self.env.reset(**kwargs)
        for action in (1, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self.lives = info.get("lives", 0)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; after a lost life (game not over), press FIRE and action 2 as well."""
        obs, reward, terminated, truncated, info = cast(
            "tuple[Any, float, bool, bool, dict[str, Any]]", self.env.step(action)
        )
        lost_life = info.get("lives", 0) < self.lives
        if self.after_life_loss and lost_life and not (terminated or truncated):
            for press in (1, 2):
                obs, extra, terminated, truncated, info = cast(
                    "tuple[Any, float, bool, bool, dict[str, Any]]", self.env.step(press)
                )
                reward += extra
                if terminated or truncated:
                    break
        self.lives = info.get("lives", 0)
        return obs, reward, terminated, truncated, info


def _needs_fire(env: gym.Env) -> bool:
    """Whether the game's actions include FIRE where SB3's FireResetEnv expects it."""
    meanings = cast("AtariEnv", env.unwrapped).get_action_meanings()
    return len(meanings) >= 3 and meanings[1] == "FIRE"


def _atari(env_id: str, atari: AtariSpec, kwargs: dict[str, Any]) -> gym.Env:
    """An ALE game with the standard preprocessing: uint8 (stack, size, size) grey frames."""
    # AtariPreprocessing does the frame skipping (with max-pooling), so ALE must not.
    # max_episode_steps counts agent steps (the frames of this project), so its TimeLimit
    # goes on top of the frame skipping rather than on the emulator.
    max_episode_steps = kwargs.pop("max_episode_steps", None)
    kwargs = {"repeat_action_probability": atari.repeat_action_probability,
              "full_action_space": atari.full_action_space, **kwargs, "frameskip": 1}  # fmt: skip
    single = gym.make(env_id, **kwargs)
    single = AtariPreprocessing(
        single,
        noop_max=atari.noop_max,
        frame_skip=atari.frame_skip,
        screen_size=atari.screen_size,
        terminal_on_life_loss=False,
        grayscale_obs=True,
    )
    if atari.fire_on_reset and _needs_fire(single):
        single = FireOnReset(single, after_life_loss=atari.episodic_life)
    single = FrameStackObservation(single, atari.frame_stack)
    if max_episode_steps is not None:
        single = gym.wrappers.TimeLimit(single, max_episode_steps)
    return LifeLossSignal(single) if atari.episodic_life else single


def _make_one(env: EnvSpec, rescale_actions: bool) -> Callable[[], gym.Env]:
    def make() -> gym.Env:
        # RescaleAction of a float32 Box warns about float64 bounds it casts back; harmless.
        warnings.filterwarnings("ignore", message=".*precision lowered by casting.*")
        kwargs = dict(env.kwargs)
        if env.max_episode_steps is not None:
            kwargs["max_episode_steps"] = env.max_episode_steps
        if env.atari is not None:
            _register_optional_envs()  # in a fresh worker process of an async vector env
            return _atari(env.id, env.atari, kwargs)
        single = gym.make(env.id, **kwargs)
        if rescale_actions and isinstance(single.action_space, gym.spaces.Box):
            single = gym.wrappers.RescaleAction(single, -1.0, 1.0)  # type: ignore[arg-type]  # gymnasium annotates the bounds as numpy scalars or arrays; its code takes floats
        return single

    return make


def make_vec_env(
    env: EnvSpec,
    seed: int,
    num_envs: int | None = None,
    training: bool = False,
    *,
    rescale_actions: bool,
) -> VectorEnv:
    """A seeded vector env: same-step auto-reset, episode statistics.

    With rescale_actions, a Box action space is rescaled to [-1, 1], for agents that squash
    their actions with tanh (SAC, CrossQ); without, actions stay in the env's own units
    (PPO and A2C sample there and clip to the bounds, as SB3 and CleanRL do).
    On auto-reset the returned observation is the new episode's first one and the last
    observation of the finished episode is in info["final_obs"] (see `next_observations`).
    Episode statistics see the env's own rewards; a training env of an Atari spec with
    clip_reward then hands the agent rewards clipped to [-1, 1].
    """
    check_env_id(env.id)
    if env.atari is not None and "ale_py" not in str(gym.spec(env.id).entry_point):
        raise RlpipeError(f"{env.id}: atari settings need an ALE env (ale_py)")
    count = num_envs or env.num_envs
    vector_cls = AsyncVectorEnv if env.vectorization == "async" and count > 1 else SyncVectorEnv
    try:
        envs = vector_cls(
            [_make_one(env, rescale_actions)] * count, autoreset_mode=AutoresetMode.SAME_STEP
        )
    except gym.error.DependencyNotInstalled as exc:
        entry = str(gym.spec(env.id).entry_point)
        extra = next((x for key, x in _EXTRA_FOR_ENTRY_POINT.items() if key in entry), None)
        fix = f"pip install 'rlpipe[{extra}]'" if extra else "install its dependency"
        raise RlpipeError(
            f"{env.id} needs a package that is not installed: {fix} ({exc})"
        ) from None
    envs = RecordEpisodeStatistics(envs, buffer_length=1)
    if training and env.atari is not None and env.atari.clip_reward:
        envs = ClipReward(envs, -1.0, 1.0)
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    return envs


def env_shapes(envs: VectorEnv) -> EnvShapes:
    """Observation and action facts of a vector env's single env."""
    obs_space, action_space = envs.single_observation_space, envs.single_action_space
    if isinstance(action_space, gym.spaces.Discrete):
        return EnvShapes(
            cast("tuple[int, ...]", obs_space.shape),
            cast("np.dtype[Any]", obs_space.dtype),
            True,
            int(action_space.n),
        )
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        low, high = action_space.low.astype(float), action_space.high.astype(float)
        bounded = bool(np.isfinite(low).all() and np.isfinite(high).all())
        bounds = (tuple(low.tolist()), tuple(high.tolist())) if bounded else None
        return EnvShapes(
            cast("tuple[int, ...]", obs_space.shape),
            cast("np.dtype[Any]", obs_space.dtype),
            False,
            int(action_space.shape[0]),
            bounds,
        )
    raise RlpipeError(f"unsupported action space {action_space}: need Discrete or a 1-D Box")


def next_observations(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """The true next observation of every env: the final one where an episode just ended."""
    if "_final_obs" not in info:
        return obs
    ended = info["_final_obs"]
    next_obs = obs.copy()
    next_obs[ended] = np.stack(info["final_obs"][ended])
    return cast("np.ndarray", next_obs)


def finished_returns(info: dict[str, Any]) -> list[float]:
    """Returns of the episodes that ended on this step (from RecordEpisodeStatistics)."""
    if "_episode" not in info:
        return []
    return [float(r) for r in info["episode"]["r"][info["_episode"]]]


def learning_terminals(terminated: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """Where the learner must not bootstrap: terminated, or a life lost (episodic life)."""
    if "_life_lost" not in info:
        return terminated
    return cast("np.ndarray", terminated | (info["life_lost"] & info["_life_lost"]))
