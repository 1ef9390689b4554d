"""A run trained as seed groups (suite stages of some seeds each), combined into one run."""

from __future__ import annotations

from rlpipe.errors import RlpipeError
from rlpipe.rundir import RunFolder, Summary


def summarize_groups(run: RunFolder) -> Summary:
    """Write the run's spec.json, provenance.json and summary.json from its seed groups.

    Every group must come from the same spec (hash), the groups together must train exactly the
    spec's seeds, and every seed must have finished; otherwise nothing is written.
    """
    from rlpipe.spec import Spec, hash_document

    groups = run.read_groups()
    if not groups:
        raise RlpipeError(
            f"{run.path} has no seed groups (groups/seeds-*.json): train them with "
            "rlpipe train ... --only-seeds"
        )
    hashes = {group.spec_hash for group in groups}
    if len(hashes) > 1:
        detail = ", ".join(f"seeds {g.seeds}: {g.spec_hash[:12]}" for g in groups)
        raise RlpipeError(
            f"the seed groups of {run.path} were trained from different specs ({detail}); "
            "retrain the stale ones"
        )
    first = groups[0]
    if hash_document(first.spec) != first.spec_hash:
        raise RlpipeError(f"{run.group_file(first.seeds)}: its spec does not hash to its spec_hash")
    seed_list = Spec.model_validate(first.spec).meta.seed_list
    covered = sorted(seed for group in groups for seed in group.seeds)
    if covered != seed_list:
        missing = sorted(set(seed_list) - set(covered))
        what = f"seeds {missing} have no group" if missing else f"groups cover seeds {covered}"
        raise RlpipeError(
            f"{run.path}: {what}, but the spec trains seeds {seed_list}; train the missing "
            "groups with rlpipe train ... --only-seeds"
        )
    results = []
    for seed in seed_list:
        result = run.seed(seed).read_result()
        if result is None:
            raise RlpipeError(
                f"seed {seed} of {run.path} has not finished; continue its group with --resume"
            )
        results.append(result.model_dump())
    run.write_spec(first.spec, first.spec_hash, first.overrides)
    groups_provenance = [{"seeds": g.seeds, **g.provenance} for g in groups]
    run.write_provenance({**first.provenance, "groups": groups_provenance})
    return run.write_summary(results)
