"""The one table of algorithms: name, display name, colour, agent class, loop and peer.

Adding an algorithm touches its own file, one line here, its schema model (rlpipe/spec/schema.py)
and its pipeline file; nothing else names algorithms. This module imports no torch: reports and
plots read names and colours from it, and the agent class is imported only to build an agent.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from rlpipe.errors import RlpipeError

if TYPE_CHECKING:
    import torch

    from rlpipe.algos.base import Agent
    from rlpipe.envs import EnvShapes
    from rlpipe.spec.schema import Spec

    class AgentClass(Protocol):
        """An Agent subclass as the registry builds it: `cls(spec, shapes, device)`."""

        compiled_methods: tuple[str, ...]

        def __call__(self, spec: Spec, shapes: EnvShapes, device: torch.device) -> Agent: ...


@dataclass(frozen=True)
class Algorithm:
    """One algorithm as the rest of rlpipe knows it."""

    name: str  # the spec's algorithm.name
    display_name: str  # in reports and plots
    color: str  # the same in every figure
    agent: str  # "module:Class" of its Agent subclass
    on_policy: bool  # rollout loop (rlpipe.loops.onpolicy) instead of replay (offpolicy)
    squashes_actions: bool  # tanh into [-1, 1], so envs rescale their Box; else the env's units
    peer: str | None = None  # "package:Class" of its Stable-Baselines3 / sb3-contrib twin

    def agent_class(self) -> AgentClass:
        """The Agent subclass (imports it, and so torch)."""
        module, _, cls = self.agent.partition(":")
        return cast("AgentClass", getattr(importlib.import_module(module), cls))

    @property
    def compilable(self) -> bool:
        """Whether rlpipe.fast has losses of this agent to compile."""
        return bool(self.agent_class().compiled_methods)


ALGORITHMS: dict[str, Algorithm] = {
    entry.name: entry
    for entry in (
        Algorithm("crossq", "CrossQ", "#d62728", "rlpipe.algos.crossq:CrossQ", False, True,
                  "sb3_contrib:CrossQ"),
        Algorithm("sac", "SAC", "#1f77b4", "rlpipe.algos.sac:SAC", False, True,
                  "stable_baselines3:SAC"),
        Algorithm("ppo", "PPO", "#2ca02c", "rlpipe.algos.ppo:PPO", True, False,
                  "stable_baselines3:PPO"),
        Algorithm("a2c", "A2C", "#9467bd", "rlpipe.algos.a2c:A2C", True, False,
                  "stable_baselines3:A2C"),
        Algorithm("dqn", "DQN", "#ff7f0e", "rlpipe.algos.dqn:DQN", False, False,
                  "stable_baselines3:DQN"),
    )
}  # fmt: skip


def algorithm(name: str) -> Algorithm:
    """The registry entry of an algorithm name; an unknown name is an RlpipeError."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise RlpipeError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}") from None


def display_name(name: str) -> str:
    """The display name of an algorithm (CrossQ, SAC, ...); an unknown name as given."""
    entry = ALGORITHMS.get(name)
    return entry.display_name if entry else name


def build_agent(spec: Spec, shapes: EnvShapes, device: torch.device) -> Agent:
    """The agent for spec.algorithm, on device, for an env of the given shapes."""
    return algorithm(spec.algorithm.name).agent_class()(spec, shapes, device)
