"""Where `rlpipe eval` may write: never over a run folder's own records or weights, and over an
existing file only if it is an evaluation that `rlpipe eval` wrote.

An evaluation file is a JSON object with exactly the keys `rlpipe eval` writes (`spec_hash`,
`episodes_per_seed`, `return_mean` and `per_seed`, one `{seed, return_mean}` per seed), whether
of a whole run, of a seed group (`--only-seeds`) or merged (`--merge`). Re-running an eval stage
overwrites its own file; any other existing file is refused before anything is evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rlpipe.errors import RlpipeError
from rlpipe.rundir import RunFolder
from rlpipe.rundir.folder import GROUPS_DIR

EVAL_KEYS = frozenset({"spec_hash", "episodes_per_seed", "return_mean", "per_seed"})
"""The keys of an evaluation file, exactly (rlpipe.evaluation.evaluate_run writes them)."""
SEED_KEYS = frozenset({"seed", "return_mean"})
"""The keys of each `per_seed` entry, exactly."""
MAX_EVAL_BYTES = 1_000_000
"""Larger than any evaluation (1000 seeds take about 60 kB): a larger file is something else and
is not read."""
_SEED_FOLDER = re.compile(r"seed-(\d+)")
_GROUP_FILE = re.compile(r"seeds-\d+(-\d+)*\.json")


def _runs_around(output: Path, run: RunFolder) -> Iterator[RunFolder]:
    """The evaluated run, and every run folder (one holding spec.json) that holds `output` as a
    run file or a seed's file."""
    yield run
    for ancestor in list(output.parents)[:3]:
        if RunFolder(ancestor).holds_run():
            yield RunFolder(ancestor)


def _role_in(target: Path, run: RunFolder) -> str | None:
    """What the resolved path `target` is to `run`: one of its records or weights, else None."""
    files = {
        run.spec_file: "the resolved spec",
        run.provenance_file: "the provenance record",
        run.summary_file: "the summary (the run's score)",
        run.card_file: "the model card (of a pulled run)",
    }
    for root in {run.path, run.artifacts}:
        if target.parent == (root / GROUPS_DIR).resolve() and _GROUP_FILE.fullmatch(target.name):
            return "a seed group's record"
    for folder in (target.parent, target.parent.parent):
        match = _SEED_FOLDER.fullmatch(folder.name)
        if match:
            seed = run.seed(int(match[1]))
            files.update(
                {
                    seed.metrics: f"seed {seed.seed}'s training metrics",
                    seed.result: f"seed {seed.seed}'s final result",
                    seed.model: f"seed {seed.seed}'s final weights",
                    seed.checkpoint: f"seed {seed.seed}'s resume checkpoint",
                    seed.profile: f"seed {seed.seed}'s --profile trace",
                }
            )
    roles = {path.resolve(): role for path, role in files.items()}
    return roles.get(target)


def run_file_role(output: Path, run: RunFolder) -> tuple[str, Path] | None:
    """(what it is, its run folder) if `output` is a run folder's own record or weights file (of
    the evaluated run, its artifacts folder, or a run folder around `output`); else None."""
    target = Path(output).resolve()
    for folder in _runs_around(Path(output).absolute(), run):
        role = _role_in(target, folder)
        if role is not None:
            return role, folder.path
    return None


def _shape_problem(document: Any) -> str | None:
    """Why a parsed JSON document is not an evaluation file; None if it is one."""
    if not isinstance(document, dict):
        return "not a JSON object"
    if set(document) != EVAL_KEYS:
        return f"its keys are {sorted(document)[:6]}, not {sorted(EVAL_KEYS)}"
    entries = document["per_seed"]
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and set(entry) == SEED_KEYS for entry in entries
    ):
        return "'per_seed' is not a list of {seed, return_mean}"
    return None


def not_an_evaluation(path: Path) -> str | None:
    """Why the existing file at `path` is not an evaluation written by `rlpipe eval`; None if it
    is one. Reads at most MAX_EVAL_BYTES."""
    if path.is_dir():
        return "it is a folder"
    if not path.is_file():
        return "it is not a regular file"
    size = path.stat().st_size
    if size > MAX_EVAL_BYTES:
        return f"{size:,} bytes, far larger than an evaluation"
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return "not a JSON file"
    return _shape_problem(document)


def check_eval_output(run: RunFolder, output: Path) -> None:
    """Refuse `output` (an RlpipeError, before anything is evaluated) if it is a run folder's own
    record or weights file, or an existing file other than an evaluation `rlpipe eval` wrote."""
    fix = (
        f"give --output a file of its own (the suite writes evals/<run>.json; the default is "
        f"{run.eval_file})"
    )
    found = run_file_role(output, run)
    if found is not None:
        role, folder = found
        raise RlpipeError(
            f"{output} is {role} of the run folder {folder}; rlpipe eval never writes over a run's own "
            f"files, and nothing was evaluated: {fix}"
        )
    if output.exists() or output.is_symlink():
        reason = not_an_evaluation(output)
        if reason is not None:
            raise RlpipeError(
                f"{output} exists and is not an evaluation written by rlpipe eval "
                f"({reason}); it was left as it is and nothing was evaluated: {fix}, or move "
                "the file away first"
            )
