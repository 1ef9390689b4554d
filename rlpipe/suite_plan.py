"""`rlpipe suite plan`: the train stages that `rlpipe suite run` (or `dvc repro`) would train,
what changed in each, and the compute the same seeds took when the run last trained, so that a
re-train's cost is known before it starts.

The cost is read from the run folder on disk (each seed's result.json: wall time, torch threads,
device), scaled linearly to the frames the stage trains now. It is a measurement of the last run,
contention included, on the CPU that run names in its provenance. A seed group never trained yet
(a row whose other group trained in an earlier session) takes the pace of as many of the run's
other seeds as it has: the same spec on the same frames. A stage of a run with no result at all
(a new row, or one never finished) has no figure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rlpipe.errors import RlpipeError
from rlpipe.rundir.folder import RunFolder, read_json
from rlpipe.rundir.provenance import cpu_model
from rlpipe.spec import DEFAULT_SUITE, Suite, load_suite
from rlpipe.stages import (
    TrainStage,
    require_current_dvc_yaml,
    seed_list,
    stage_status,
    train_stages,
)


@dataclass(frozen=True)
class LastCost:
    """What one stage's seeds took when their run last trained, scaled to today's frames."""

    cpu_core_s: float  # wall seconds x torch threads, summed over the seeds trained on a CPU
    gpu_s: float  # wall seconds, summed over the seeds trained on a GPU
    measured_on: str | None  # the CPU model (or GPU name) the run's provenance names
    wall_s: float = 0.0  # wall seconds, summed over all the seeds
    # other seeds of the run whose pace stands in for the stage's, none of which has a result
    from_seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class PlannedStage:
    """One stale train stage: its seeds, the frames each trains, why it is stale, its last cost."""

    name: str
    run: str
    seeds: tuple[int, ...]
    frames: int  # env frames per seed that this stage trains (one part of a chain: its share)
    changes: tuple[str, ...]
    last: LastCost | None  # None: no earlier result for every one of its seeds

    def cpu_wall_s(self, cpus: int) -> float | None:
        """About how long the stage's CPU seeds take on `cpus` cores, side by side, one per core
        (a seed's wall time already reflects the threads it had)."""
        if self.last is None or not self.last.cpu_core_s:
            return None
        return self.last.wall_s / max(1, min(cpus, len(self.seeds)))


def stage_frames(stage: TrainStage, frames: int, step: int) -> int:
    """The frames one stage of a run of `frames` trains, for chains of `step` frames per part."""
    start = (stage.part - 1) * step
    return (stage.until or frames) - start


def last_cost(root: Path, key: str, seeds: tuple[int, ...], frames: int) -> LastCost | None:
    """The compute the seeds took in the run folder's last training, scaled to `frames` each.

    When no seed of the stage has a result (a seed group not trained yet), as many of the run's
    other seeds stand in, marked in `from_seeds`; None when neither gives a readable result for
    every seed counted."""
    folder = RunFolder(root / "runs" / key, root / "artifacts" / key)
    measured_on = _measured_on(folder.provenance_file)
    own = _seeds_cost(folder, seeds, frames)
    if own is not None:
        return LastCost(own[0], own[1], measured_on, own[2])
    if any(folder.seed(seed).result.exists() for seed in seeds):
        return None  # a damaged or unfinished result of its own: its pace is not another's
    others = [
        found.seed
        for found in folder.seeds_with_metrics()
        if found.seed not in seeds and found.result.exists()
    ][: len(seeds)]
    if len(others) < len(seeds):
        return None
    stand_in = _seeds_cost(folder, tuple(others), frames)
    if stand_in is None:
        return None
    return LastCost(stand_in[0], stand_in[1], measured_on, stand_in[2], tuple(others))


def _seeds_cost(
    folder: RunFolder, seeds: tuple[int, ...], frames: int
) -> tuple[float, float, float] | None:
    """CPU core-seconds, GPU seconds and wall seconds of the seeds' last training at `frames`
    each; None unless every seed has a readable result."""
    cpu_core_s = gpu_s = wall_s = 0.0
    for seed in seeds:
        try:
            result = folder.seed(seed).read_result()
        except RlpipeError:  # a damaged result.json: its run re-trains, its cost is unknown
            return None
        if result is None or result.frames <= 0:
            return None
        seconds = result.wall_s * frames / result.frames
        wall_s += seconds
        if (result.device or "cpu").startswith("cuda"):
            gpu_s += seconds
        else:
            cpu_core_s += seconds * (result.torch_threads or 1)
    return cpu_core_s, gpu_s, wall_s


def cost_source(cost: LastCost) -> str:
    """Whose training a cost was measured on: "its last training", or the stand-in seeds'."""
    if not cost.from_seeds:
        return "its last training"
    return f"the last training of seeds {', '.join(map(str, cost.from_seeds))}"


def _measured_on(path: Path) -> str | None:
    try:
        provenance = read_json(path, "")
    except RlpipeError:
        return None
    if not isinstance(provenance, dict):
        return None
    device = str(provenance.get("device") or "")
    name = provenance.get("gpu_name") if device.startswith("cuda") else None
    found = name or provenance.get("cpu_model")
    return str(found) if found else None


def plan_suite(root: Path, suite_path: Path = DEFAULT_SUITE) -> list[PlannedStage]:
    """The suite's stale train stages in suite order, each with its last measured cost.

    `root` is the project and the working directory (DVC reads stage names relative to it).
    A dvc.yaml that no longer matches the suite file is refused: its stages are not the suite's.
    """
    suite = load_suite(root / suite_path)
    pipelines = root / "pipelines"
    require_current_dvc_yaml(root, suite, suite_path)
    stages = train_stages(suite, pipelines)
    stale = {status.stage: status for status in stage_status(root, [s.name for s in stages])}
    planned = []
    for stage in stages:
        if stage.name not in stale:
            continue
        status = stale[stage.name]
        seeds = stage.seeds or tuple(seed_list(suite, stage.run, pipelines))
        frames = _frames(suite, stage)
        changes = tuple(dict.fromkeys(map(short_change, status.changed_code)))
        changes += tuple(f"{path} {state}" for path, state in status.changed_outputs)
        if status.never_ran:
            changes = ("never ran",)
        cost = last_cost(root, stage.run, seeds, frames)
        planned.append(PlannedStage(stage.name, stage.run, seeds, frames, changes, cost))
    return planned


def short_change(change: str) -> str:
    """One of DVC's changes, in words: "code train-crossq" for a changed code fingerprint,
    "crossq.yaml specs.hopper" for a changed spec, "command" for a changed command."""
    path, _, detail = change.partition(" ")
    where = Path(path)
    if where.parent.name == "fingerprints" and where.suffix == ".json":
        return f"code {where.stem}"
    if where.parent.name in ("pipelines", "params"):
        key = detail.rsplit(" ", 1)[0] if " " in detail else ""
        return f"{where.name} {key}".strip()
    return change.removeprefix("changed ")


def duration_text(seconds: float) -> str:
    """A duration in words: seconds under 90 s, minutes under 90 min, else hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def _frames(suite: Suite, stage: TrainStage) -> int:
    run = suite.runs[stage.run]
    return stage_frames(stage, run.frames, run.stage_frames or run.frames)


def this_machine() -> tuple[int, str | None]:
    """The CPU cores this process may use, and the CPU model."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cpus or 1, cpu_model()
