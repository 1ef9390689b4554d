"""Training loops: one seed's session (setup, resume, teardown), off-policy and on-policy."""

from __future__ import annotations

from typing import Any

from rlpipe.algos.registry import algorithm
from rlpipe.loops.session import SeedJob
from rlpipe.spec.schema import Spec


def train_seed(spec: Spec, job: SeedJob) -> dict[str, Any]:
    """Train one seed with its algorithm's loop; returns its result (also in result.json)."""
    if algorithm(spec.algorithm.name).on_policy:
        from rlpipe.loops.onpolicy import OnPolicySession as Session
    else:
        from rlpipe.loops.offpolicy import OffPolicySession as Session
    return Session(spec, job).run()


__all__ = ["SeedJob", "train_seed"]
