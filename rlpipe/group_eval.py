"""`rlpipe eval --only-seeds` and `--merge`: a run's evaluation one seed group at a time.

A suite row with `eval_per_group` evaluates each seed group as soon as the group has trained,
while its weights are still in this machine's DVC cache, and merges the groups' evaluations
into the row's once all groups are done: a row then trains over several sessions (one group
each) on machines that do not keep the cache. Each group is evaluated exactly as
`rlpipe.evaluation.evaluate_run` evaluates a whole run (same episodes, same env seeds), so the
merged file equals what one evaluation of the finished run writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlpipe.errors import RlpipeError
from rlpipe.rundir import RunFolder, atomic_write_json
from rlpipe.rundir.folder import SavedSpec, SeedGroup, read_json, read_model

if TYPE_CHECKING:
    import torch


class SeedGroupView(RunFolder):
    """A run folder seen through one seed group's record (groups/seeds-A-B.json): its spec is
    the group's, narrowed to the group's seeds, so that evaluate_run evaluates just them. The
    run's own spec.json is written only when every group has trained."""

    def __init__(self, run: RunFolder, seeds: Sequence[int]) -> None:
        super().__init__(run.path, run.artifacts)
        self.group_seeds = sorted(seeds)
        path = run.group_file(self.group_seeds)
        if not path.exists():
            raise RlpipeError(
                f"{run.path} has no seed group {list(self.group_seeds)} ({path} is missing): "
                "train it with rlpipe train ... --only-seeds "
                + ",".join(str(seed) for seed in self.group_seeds)
            )
        self.group = read_model(path, SeedGroup, f"re-train the group ({path})")

    def read_spec(self, verify: bool = True) -> SavedSpec:
        from rlpipe.spec import Spec, hash_document

        group, path = self.group, self.group_file(self.group_seeds)
        if verify and hash_document(group.spec) != group.spec_hash:
            raise RlpipeError(f"{path}: its spec does not hash to its spec_hash")
        spec = Spec.model_validate(group.spec)
        seeds = self.group_seeds
        if seeds != list(range(seeds[0], seeds[0] + len(seeds))) or not set(seeds) <= set(
            spec.meta.seed_list
        ):
            raise RlpipeError(
                f"{path}: seeds {seeds} are not a contiguous part of the spec's seeds "
                f"{spec.meta.seed_list}"
            )
        meta = spec.meta.model_copy(update={"base_seed": seeds[0], "seeds": len(seeds)})
        narrowed = spec.model_copy(update={"meta": meta})
        return SavedSpec(narrowed, group.spec_hash, tuple(group.overrides), group.spec)

    def read_provenance(self) -> dict[str, Any]:
        return dict(self.group.provenance)

    @property
    def provenance_file(self) -> Path:
        """The group's record stands in for provenance.json (a parity run's peer is in it)."""
        return self.group_file(self.group_seeds)


def evaluate_group(
    run: RunFolder,
    seeds: Sequence[int],
    output: Path,
    episodes: int | None = None,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Evaluate one seed group's final weights (evaluate_run on the group); writes `output`."""
    from rlpipe.evaluation import evaluate_run

    return evaluate_run(SeedGroupView(run, seeds), episodes, device, output)


def merge_group_evals(run: RunFolder, files: Sequence[Path], output: Path) -> dict[str, Any]:
    """Merge the seed groups' evaluations into the run's, once the run is summarised; writes
    `output`. The groups must come from the run's spec, use the same episodes and cover its
    seeds exactly once."""
    saved = run.read_spec(verify=False)
    expected = list(saved.spec.meta.seed_list)
    per_seed: list[dict[str, Any]] = []
    episodes: set[Any] = set()
    for path in files:
        fix = f"evaluate the group again (rlpipe eval {run.path} --only-seeds ...)"
        document = read_json(Path(path), fix)
        if not isinstance(document, dict) or not isinstance(document.get("per_seed"), list):
            raise RlpipeError(f"{path} is not a group evaluation (no 'per_seed' list); {fix}")
        if document.get("spec_hash") != saved.spec_hash:
            raise RlpipeError(
                f"{path} evaluated spec {str(document.get('spec_hash'))[:12]}, but {run.path} "
                f"holds spec {saved.spec_hash[:12]}; {fix}"
            )
        episodes.add(document.get("episodes_per_seed"))
        per_seed.extend(document["per_seed"])
    if len(episodes) > 1:
        raise RlpipeError(
            f"the group evaluations ran different episodes per seed ({sorted(episodes)}); "
            "evaluate every group with the same --episodes"
        )
    seeds = sorted(entry["seed"] for entry in per_seed)
    if seeds != expected:
        raise RlpipeError(
            f"the group evaluations cover seeds {seeds}, but {run.path} trains seeds {expected}; "
            "pass each group's file once"
        )
    per_seed.sort(key=lambda entry: entry["seed"])
    result = {
        "spec_hash": saved.spec_hash,
        "episodes_per_seed": episodes.pop(),
        "return_mean": sum(entry["return_mean"] for entry in per_seed) / len(per_seed),
        "per_seed": per_seed,
    }
    atomic_write_json(output, result)
    return result
