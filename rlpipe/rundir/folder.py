"""The run folder: every file name of a run, and typed readers and writers with one error policy.

A run folder holds spec.json, provenance.json, summary.json and one seed-K/ folder per seed
(metrics.csv, result.json). Weights and resume checkpoints (seed-K/model.pt,
seed-K/checkpoint/state.pt) live in the artifacts folder, which is the run folder itself unless
a pipeline keeps them elsewhere (the DVC suite keeps them in artifacts/<run>/).

Every reader raises the same RlpipeError for a missing, truncated or wrongly typed file: it
names the file, says what is wrong and what to do. Files that hold tensors are loaded with
`torch.load(weights_only=True)`, so a crafted pickle is refused, never executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rlpipe.errors import RlpipeError
from rlpipe.rundir.atomic import atomic_torch_save, atomic_write_json
from rlpipe.rundir.metrics import read_rows
from rlpipe.rundir.summary import SeedResult, Summary, summarize

SPEC_FILE = "spec.json"
PROVENANCE_FILE = "provenance.json"
SUMMARY_FILE = "summary.json"
METRICS_FILE = "metrics.csv"
RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "state.pt"
PROFILE_FILE = "profile.json"
EVAL_FILE = "eval.json"
GROUPS_DIR = "groups"

_RUN_NAME_PART = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
_SEED_FOLDER = re.compile(r"seed-(\d+)")
Model = TypeVar("Model", bound=BaseModel)


class DamagedRunFile(RlpipeError):
    """A run file exists but cannot be read as what it should be."""


def read_json(path: Path, fix: str) -> Any:
    """The parsed JSON file at path; a missing or damaged file is an RlpipeError saying `fix`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RlpipeError(f"{path} is missing; {fix}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedRunFile(f"{path} cannot be read ({error}); {fix}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise DamagedRunFile(f"{path} is damaged (not valid JSON: {error}); {fix}") from None


def read_model(path: Path, model: type[Model], fix: str) -> Model:
    """A JSON file validated as a pydantic model with its JSON types (strict: "100" is not a
    number), with the error policy of `read_json`."""
    data = read_json(path, fix)
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "the document"
        raise DamagedRunFile(f"{path} is damaged ({key}: {first['msg']}); {fix}") from None
    except ValueError as error:  # inf or NaN in the file: not JSON
        raise DamagedRunFile(f"{path} is damaged ({error}); {fix}") from None


def load_tensors(path: Path, device: Any, fix: str) -> Any:
    """torch.load with weights_only=True: tensors and plain types only, never arbitrary code."""
    import pickle
    import zipfile

    import torch

    if not path.is_file():
        raise RlpipeError(f"{path} is missing; {fix}")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        unsafe = re.search(r"Unsupported global: GLOBAL [\w.]+", text)
        if unsafe is None:  # not a pickle at all (random bytes, a truncated file)
            detail = re.search(r"Unsupported operand \d+", text)
            reason = detail.group(0) if detail else text.splitlines()[0]
            raise DamagedRunFile(f"{path} is damaged ({reason}); {fix}") from None
        raise DamagedRunFile(
            f"{path} holds objects that cannot be loaded safely ({unsafe.group(0)}); it was "
            f"refused, not run. Only tensors and plain data written by rlpipe are loaded; {fix}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        reason = str(error).split("\n", 1)[0]
        raise DamagedRunFile(f"{path} is damaged ({reason}); {fix}") from None


@dataclass(frozen=True)
class SavedSpec:
    """A run's spec.json: the resolved spec, its hash and the overrides it was trained with."""

    spec: Any  # rlpipe.spec.Spec (imported lazily: the spec package is not needed to read runs)
    spec_hash: str
    overrides: tuple[str, ...]
    document: dict[str, Any]  # the spec as saved, for re-hashing exactly what is on disk


class SeedGroup(BaseModel):
    """groups/seeds-A-B.json: one seed group of a run, trained as its own suite stage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seeds: list[int]
    spec_hash: str
    spec: dict[str, Any]
    overrides: list[str]
    provenance: dict[str, Any]


def group_name(seeds: list[int] | tuple[int, ...]) -> str:
    """The name of a seed group: seeds-0-1 for seeds 0 and 1, seeds-3 for seed 3 alone."""
    return "seeds-" + "-".join(str(seed) for seed in sorted(seeds))


@dataclass(frozen=True)
class SeedFolder:
    """The files of one seed: small ones in `path`, weights and checkpoints in `artifacts`."""

    seed: int
    path: Path
    artifacts: Path

    @property
    def metrics(self) -> Path:
        """seed-K/metrics.csv."""
        return self.path / METRICS_FILE

    @property
    def result(self) -> Path:
        """seed-K/result.json, written when the seed finishes."""
        return self.path / RESULT_FILE

    @property
    def model(self) -> Path:
        """seed-K/model.pt: final weights (and observation-normalisation statistics)."""
        return self.artifacts / MODEL_FILE

    @property
    def checkpoint(self) -> Path:
        """seed-K/checkpoint/state.pt: everything needed to resume."""
        return self.artifacts / CHECKPOINT_DIR / CHECKPOINT_FILE

    @property
    def profile(self) -> Path:
        """seed-K/profile.json: the torch.profiler trace of --profile."""
        return self.artifacts / PROFILE_FILE

    def _fix(self) -> str:
        return (
            f"retrain this seed alone with `--resume --restart-seed {self.seed}`, or the whole run "
            "with --overwrite"
        )

    def read_result(self) -> SeedResult | None:
        """The seed's result.json, None if it has not finished."""
        if not self.result.exists():
            return None
        return read_model(self.result, SeedResult, self._fix())

    def write_result(self, result: dict[str, Any]) -> None:
        """Write result.json atomically."""
        atomic_write_json(self.result, result)

    def read_metrics(self) -> list[dict[str, float | None]]:
        """The complete rows of metrics.csv."""
        return read_rows(self.metrics)

    def load_weights(self, device: Any) -> dict[str, Any]:
        """The final weights saved by training (model.pt)."""
        return load_tensors(self.model, device, "train the run first, or re-train this seed")

    def save_weights(self, state: dict[str, Any]) -> None:
        """Write model.pt atomically."""
        atomic_torch_save(state, self.model)

    def load_checkpoint(self, device: Any) -> dict[str, Any] | None:
        """The resume checkpoint, None if this seed has none."""
        if not self.checkpoint.exists():
            return None
        return load_tensors(self.checkpoint, device, self._fix())

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write the resume checkpoint atomically."""
        atomic_torch_save(state, self.checkpoint)

    def discard(self) -> None:
        """Delete this seed's files (small ones and artifacts), to train it again from scratch."""
        import shutil

        for folder in {self.path, self.artifacts}:
            shutil.rmtree(folder, ignore_errors=True)


class RunFolder:
    """One run: `path` holds the small files, `artifacts` the weights and checkpoints."""

    def __init__(self, path: Path, artifacts: Path | None = None) -> None:
        self.path = Path(path)
        self.artifacts = Path(artifacts) if artifacts is not None else self.path

    @staticmethod
    def for_spec(family: str, spec_name: str, root: Path = Path("runs")) -> RunFolder:
        """The default run folder root/<family>-<spec_name>, rejecting names that are not plain."""
        for what, name in (("family", family), ("spec name", spec_name)):
            if not _RUN_NAME_PART.fullmatch(name) or name in (".", ".."):
                raise RlpipeError(
                    f"{what} {name!r} cannot name a run folder: use letters, digits, _ . -"
                )
        return RunFolder(Path(root) / f"{family}-{spec_name}")

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def spec_file(self) -> Path:
        """spec.json."""
        return self.path / SPEC_FILE

    @property
    def provenance_file(self) -> Path:
        """provenance.json."""
        return self.path / PROVENANCE_FILE

    @property
    def summary_file(self) -> Path:
        """summary.json."""
        return self.path / SUMMARY_FILE

    @property
    def eval_file(self) -> Path:
        """eval.json, the default output of `rlpipe eval`."""
        return self.path / EVAL_FILE

    def holds_run(self) -> bool:
        """Whether a run was started here (its spec.json exists)."""
        return self.spec_file.exists()

    def seed(self, seed: int) -> SeedFolder:
        """The folder of one seed: seed-<seed>."""
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        name = f"seed-{seed}"
        return SeedFolder(seed, self.path / name, self.artifacts / name)

    def seeds_with_metrics(self) -> list[SeedFolder]:
        """The seed folders on disk that hold a metrics.csv, ordered by seed."""
        found = []
        for folder in self.path.glob("seed-*"):
            match = _SEED_FOLDER.fullmatch(folder.name)
            if match and (folder / METRICS_FILE).is_file():
                found.append(self.seed(int(match[1])))
        return sorted(found, key=lambda seed: seed.seed)

    # ------------------------------------------------------------------ spec.json

    def _fix(self) -> str:
        return (
            f"re-run the stage that wrote it (rlpipe train ... --out {self.path} --overwrite, "
            "or dvc repro)"
        )

    def _spec_json(self) -> dict[str, Any]:
        if not self.spec_file.exists():
            raise RlpipeError(f"{self.path} is not a run folder: no {SPEC_FILE}")
        saved = read_json(self.spec_file, self._fix())
        if not isinstance(saved, dict) or not isinstance(saved.get("spec"), dict):
            raise DamagedRunFile(f"{self.spec_file} is damaged (no 'spec' mapping); {self._fix()}")
        spec_hash, overrides = saved.get("spec_hash"), saved.get("overrides", [])
        if not isinstance(spec_hash, str) or not spec_hash or not isinstance(overrides, list):
            raise DamagedRunFile(
                f"{self.spec_file} is damaged (spec_hash or overrides missing or of the wrong "
                f"type); {self._fix()}"
            )
        return saved

    def read_spec_hash(self) -> str:
        """The spec hash recorded in spec.json (without validating the spec itself)."""
        return self._spec_json()["spec_hash"]

    def read_spec_names(self) -> tuple[str | None, str | None]:
        """The (family, spec name) recorded in spec.json, without validating the spec."""
        spec = self._spec_json()["spec"]
        return spec.get("family"), spec.get("name")

    def read_family(self) -> str | None:
        """The pipeline family recorded in spec.json (without validating the spec itself)."""
        family = self._spec_json()["spec"].get("family")
        return family if isinstance(family, str) else None

    def read_spec(self, verify: bool = True) -> SavedSpec:
        """spec.json, validated under the current schema; `verify` checks its hash too."""
        from rlpipe.spec import Spec, hash_document

        saved = self._spec_json()
        spec_hash, overrides = saved["spec_hash"], saved.get("overrides", [])
        try:
            stored_hash = hash_document(saved["spec"]) if verify else spec_hash
        except RlpipeError as error:
            raise DamagedRunFile(f"{self.spec_file} is damaged ({error}); {self._fix()}") from None
        if stored_hash != spec_hash:
            raise DamagedRunFile(
                f"{self.spec_file} is damaged: its spec does not hash to its spec_hash "
                f"{spec_hash[:12]} (edited by hand?); {self._fix()}"
            )
        try:
            spec = Spec.model_validate(saved["spec"])
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise DamagedRunFile(
                f"{self.spec_file}: the saved spec no longer validates ({key}: {first['msg']}); "
                f"{self._fix()}"
            ) from None
        return SavedSpec(spec, spec_hash, tuple(str(o) for o in overrides), saved["spec"])

    def write_spec(self, document: dict[str, Any], spec_hash: str, overrides: list[str]) -> None:
        """Write spec.json: the resolved spec (as JSON data), its hash and the overrides."""
        atomic_write_json(
            self.spec_file, {"spec_hash": spec_hash, "spec": document, "overrides": overrides}
        )

    # ------------------------------------------------------------------ summary.json

    def read_summary(self) -> Summary:
        """summary.json (the run must have finished)."""
        if not self.summary_file.exists():
            raise RlpipeError(
                f"{self.path} has no {SUMMARY_FILE}: the run has not finished (continue it with "
                "rlpipe train ... --resume)"
            )
        return read_model(self.summary_file, Summary, self._fix())

    def finished(self) -> bool:
        """Whether the run has a summary.json."""
        return self.summary_file.exists()

    def write_summary(self, seed_results: list[dict[str, Any]]) -> Summary:
        """Summarise per-seed results into summary.json; returns the summary."""
        summary = summarize(str(self.path), seed_results)
        atomic_write_json(self.summary_file, summary)
        return Summary.model_validate(summary)

    # ------------------------------------------------------------------ seed groups

    def group_file(self, seeds: list[int] | tuple[int, ...]) -> Path:
        """groups/seeds-A-B.json, the record of one seed group."""
        return self.path / GROUPS_DIR / f"{group_name(seeds)}.json"

    def read_groups(self) -> list[SeedGroup]:
        """The seed groups trained into this run, ordered by their first seed."""
        groups = [
            read_model(path, SeedGroup, self._fix())
            for path in sorted((self.path / GROUPS_DIR).glob("seeds-*.json"))
        ]
        return sorted(groups, key=lambda group: min(group.seeds))

    def write_group(self, group: SeedGroup) -> None:
        """Write a seed group's record atomically."""
        atomic_write_json(self.group_file(group.seeds), group.model_dump())

    # ------------------------------------------------------------------ provenance.json

    def read_provenance(self) -> dict[str, Any]:
        """provenance.json as a mapping."""
        record = read_json(self.provenance_file, self._fix())
        if not isinstance(record, dict):
            raise DamagedRunFile(
                f"{self.provenance_file} is damaged (not a mapping); {self._fix()}"
            )
        return record

    def write_provenance(self, record: dict[str, Any]) -> None:
        """Write provenance.json atomically."""
        atomic_write_json(self.provenance_file, record)
