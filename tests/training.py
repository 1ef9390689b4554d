"""Train one seed from a test, the way `rlpipe train` does inside a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlpipe.loops import SeedJob, train_seed
from rlpipe.rundir import RunFolder
from rlpipe.spec import Spec


def train_one_seed(spec: Spec, run_dir: Path, seed: int = 0, **job: Any) -> dict[str, Any]:
    """Train `seed` of spec into run_dir/seed-<seed> on the CPU; returns the seed's result."""
    folder = RunFolder(run_dir).seed(seed)
    return train_seed(spec, SeedJob(folder, torch.device("cpu"), **job))
