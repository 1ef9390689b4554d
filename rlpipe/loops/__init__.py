"""Training loops: one seed's session (setup, resume, teardown), off-policy and on-policy."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from rlpipe.algos.registry import algorithm
from rlpipe.loops.session import SeedJob
from rlpipe.spec.schema import Spec

if TYPE_CHECKING:
    from rlpipe.loops.session import SeedSession


def train_seed(spec: Spec, job: SeedJob) -> dict[str, Any]:
    """Train one seed with its algorithm's loop; returns its result (also in result.json)."""
    Session: type[SeedSession]
    if algorithm(spec.algorithm.name).on_policy:
        from rlpipe.loops.onpolicy import OnPolicySession as Session
    else:
        from rlpipe.loops.offpolicy import OffPolicySession as Session
    return Session(spec, job).run()


def plan_workers(seeds: int, device: torch.device, requested: int | None) -> tuple[int, int]:
    """(parallel seed processes, torch threads each) for this machine.

    It lives with the loops because the threads a seed trains with can change its float
    rounding, so it is part of the code that determines a run's numbers (a train stage's deps).
    """
    cores = os.cpu_count() or 1
    if requested is not None:
        workers = max(1, min(requested, seeds))
    else:
        workers = 1 if device.type == "cuda" else max(1, min(seeds, cores))
    return workers, max(1, cores // workers)


__all__ = ["SeedJob", "plan_workers", "train_seed"]
