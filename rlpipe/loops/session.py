"""One seed's training from setup to teardown; the loops fill in how frames become updates.

A `SeedSession` seeds every generator, builds the training and evaluation envs and the agent,
resumes from the seed's checkpoint, runs the subclass's `train` inside a `SeedLoop` (log,
evaluation and checkpoint schedule), then saves the weights and the seed's result. The
off-policy loop (replay) and the on-policy loop (rollouts) are its two subclasses.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from rlpipe.algos.base import Agent
from rlpipe.algos.registry import algorithm, build_agent
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.fast import accelerate
from rlpipe.loops.evaluate import eval_seed, evaluate
from rlpipe.loops.seedloop import SeedLoop, SeedProgress, StagePaused
from rlpipe.rundir import SeedFolder
from rlpipe.spec.schema import Spec


def _ignore(_: SeedProgress) -> None:
    pass


@dataclass(frozen=True)
class SeedJob:
    """One seed to train: its folder, device and how to run it."""

    folder: SeedFolder
    device: torch.device
    resume: bool = False
    profile: bool = False
    compile: bool = False
    report: Callable[[SeedProgress], None] = field(default=_ignore)
    stop_at: int | None = None  # checkpoint and stop at this frame (one stage of a chain)
    sinks: tuple[Any, ...] = ()  # RowSinks: views of the metrics rows (TensorBoard, W&B)

    @property
    def seed(self) -> int:
        """The seed."""
        return self.folder.seed


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class SeedSession(ABC):
    """Setup, resume and teardown of one seed; subclasses implement `train`."""

    loop_fields: ClassVar[dict[str, Any]] = {}
    """Extra counters the loop keeps in SeedLoop.state (saved in checkpoints)."""

    def __init__(self, spec: Spec, job: SeedJob) -> None:
        self.spec = spec
        self.job = job

    def run(self) -> dict[str, Any]:
        """Train the seed (or return its result if a resumed seed has already finished)."""
        job, spec = self.job, self.spec
        if job.resume and (done := job.folder.read_result()) is not None:
            return done.model_dump()
        seed_everything(job.seed)
        rescale = algorithm(spec.algorithm.name).squashes_actions
        self.envs = make_vec_env(spec.env, job.seed, training=True, rescale_actions=rescale)
        self.eval_envs = make_vec_env(
            spec.env,
            eval_seed(job.seed),
            num_envs=spec.meta.eval_episodes,
            rescale_actions=rescale,
        )
        try:
            self.shapes = env_shapes(self.envs)
            self.agent: Agent = accelerate(build_agent(spec, self.shapes, job.device), job.compile)
            self.setup()
            self.generator = torch.Generator(device=job.device).manual_seed(job.seed)
            loop = SeedLoop(spec, job.folder, type(self.agent).metric_columns, job.report,
                            job.profile, job.device, job.stop_at, job.sinks,
                            **self.loop_fields)  # fmt: skip
            if (saved := loop.resume(job.resume)) is not None:
                self.agent.load_state_dict(saved["agent"])
                self.generator.set_state(saved["rng"]["sampler"])
                self.restore(saved)
            frame = loop.state["frame"]
            # Env states are not checkpointed: on resume the interrupted episodes restart,
            # seeded by the frame so that a resumed run is itself reproducible.
            obs = self.envs.reset(seed=job.seed + frame)[0]
            with loop:
                frame = self.train(loop, obs, frame)
        except StagePaused as paused:
            return {"seed": job.seed, "paused_at": paused.frame}
        finally:
            self.envs.close()
            self.eval_envs.close()
        return loop.finish(frame, self.agent)

    def evaluate(self) -> float:
        """The deterministic policy's mean return over the eval envs."""
        return evaluate(self.agent, self.eval_envs, eval_seed(self.job.seed))

    def checkpoint(self) -> dict[str, Any]:
        """This session's parts of a checkpoint (SeedLoop adds the loop state)."""
        parts = self.checkpoint_parts()
        rng = {"sampler": self.generator.get_state(), **parts.pop("rng", {})}
        return {"agent": self.agent.state_dict(), "rng": rng, **parts}

    @abstractmethod
    def setup(self) -> None:
        """Build what the loop needs besides envs and agent (buffers, scalers)."""

    @abstractmethod
    def checkpoint_parts(self) -> dict[str, Any]:
        """The loop's own state for a checkpoint (buffers, extra RNG states under "rng")."""

    @abstractmethod
    def restore(self, saved: dict[str, Any]) -> None:
        """Restore what checkpoint_parts saved."""

    @abstractmethod
    def train(self, loop: SeedLoop, obs: np.ndarray, frame: int) -> int:
        """Train from `frame` to max_frame, logging through `loop`; returns the last frame."""
