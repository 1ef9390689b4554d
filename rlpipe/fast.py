"""The fast path: everything that trades code simplicity for speed lives here, not in algos.

Algorithms stay plain eager PyTorch. `accelerate` swaps an agent's loss functions for
torch.compile'd versions (forward and backward fused by inductor); the update loop
around them is unchanged, so compiled and eager agents differ only in float rounding.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, TypeVar, cast

import torch

from rlpipe.algos.registry import ALGORITHMS, algorithm
from rlpipe.errors import RlpipeError

if TYPE_CHECKING:
    from rlpipe.algos.base import Agent
    from rlpipe.spec.schema import CrossQSpec, DQNSpec, SACSpec, Spec

    AgentT = TypeVar("AgentT", bound=Agent)

# Compiling costs 25-30 s on this 2-core CPU: below this many updates a run finishes sooner
# eager. Measured for the suite's configuration (two seeds at once, one torch thread each,
# `rlpipe bench ... --threads 1`, other processes paused), CrossQ with 256-wide BatchRenorm
# critics and actor: Pendulum 41 -> 59, LunarLanderContinuous 33 -> 61, InvertedDoublePendulum
# 37 -> 70, Hopper 37 -> 71 env frames/s per seed, eager -> compiled: compiling repays itself
# after a few thousand updates.
MIN_UPDATES_TO_COMPILE = 10_000


def planned_updates(spec: Spec) -> int:
    """Gradient updates a run of spec will make (0 for algorithms without an update step)."""
    algo = spec.algorithm
    if algorithm(algo.name).on_policy:
        return 0
    return int(
        max(0, spec.env.max_frame - cast("SACSpec | CrossQSpec | DQNSpec", algo).learning_starts)
        * cast("SACSpec | CrossQSpec | DQNSpec", algo).utd
    )


def compile_by_default(spec: Spec, device: torch.device, updates: int | None = None) -> bool:
    """Whether the update is compiled when neither --compile nor --no-compile is given.

    On CUDA, always (SAC and CrossQ). On CPU, only for BatchRenorm critics: timing
    `agent.update` on one Hopper-v5 batch (256, 2 threads), CrossQ with 256-wide critics
    takes 11-14 ms eager and 6.5-7 ms compiled, while SAC 256x256 takes 6-8 ms eager and
    7-9 ms compiled (inductor fuses BatchRenorm's many elementwise ops; a plain MLP is all
    matmuls, which it cannot beat). A run of fewer than MIN_UPDATES_TO_COMPILE updates
    (`updates`) stays eager: it would spend longer compiling than it saves.

    Caveat: inductor's CPU kernels spin-wait in OpenMP barriers; with 2+ torch threads on
    cores that other processes keep busy, a compiled update can run many times slower than
    eager. rlpipe's own seed workers share the cores out (`plan_workers`), so this only
    bites beside foreign load; then pass --no-compile.
    """
    algo = spec.algorithm
    if not algorithm(algo.name).compilable or not compile_supported(device)[0]:
        return False
    if updates is not None and updates < MIN_UPDATES_TO_COMPILE:
        return False
    return (
        device.type == "cuda"
        or cast("SACSpec | CrossQSpec", algo).critic.norm.type == "batch_renorm"
    )


def compile_supported(device: torch.device) -> tuple[bool, str]:
    """Whether torch.compile can build kernels for device here, and if not, why."""
    if device.type == "cpu" and shutil.which("g++") is None and shutil.which("c++") is None:
        return False, "torch.compile on CPU needs a C++ compiler (g++), and none is on PATH"
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return False, "torch.compile on CUDA needs triton, which is not installed"
    return True, ""


def check_compilable(name: str) -> None:
    """Raise a clear error if --compile was asked for an algorithm without a compiled path."""
    if not algorithm(name).compilable:
        names = " and ".join(sorted(n for n, entry in ALGORITHMS.items() if entry.compilable))
        raise RlpipeError(f"--compile: only {names} have a compiled update, not {name}")


def accelerate(agent: AgentT, compile: bool) -> AgentT:
    """Return agent with its loss functions compiled (when compile is true)."""
    if not compile:
        return agent
    check_compilable(agent.spec.name)
    supported, why = compile_supported(agent.device)
    if not supported:
        raise RlpipeError(f"--compile: {why}; run with --no-compile")
    # Draw random numbers with eager's generator, so a compiled run consumes the same noise
    # as an eager one and the two agree to float rounding.
    torch._inductor.config.fallback_random = True
    for name in type(agent).compiled_methods:
        setattr(agent, name, torch.compile(getattr(agent, name), dynamic=False))
    return agent
