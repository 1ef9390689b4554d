"""Publish run folders to a Hugging Face Hub dataset repo and check that published runs exist.

Layout in the dataset repo: `runs/<run_key>/` holds the run's small files (spec, provenance,
summary, eval, per-seed metrics and results) plus `runs/<run_key>/seed-K/model.pt`, the
weights. Resume checkpoints (optimizer and replay buffer) are never uploaded. The token comes
from the caller or from huggingface_hub's own lookup (HF_TOKEN, `hf auth login`) and is never
written anywhere by this module, nor put in an error message.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rlpipe.errors import RlpipeError
from rlpipe.report.benchmarks import HUB_LINKS_FILE, read_hub_links
from rlpipe.runs import (
    CHECKPOINT_DIR,
    METRICS_FILE,
    MODEL_FILE,
    PROVENANCE_FILE,
    SPEC_FILE,
    SUMMARY_FILE,
    atomic_write_json,
    read_rows,
    seed_dir,
)
from rlpipe.spec import Spec, spec_document_hash
from rlpipe.spec.validation import describe_validation_error

DEFAULT_ENDPOINT = "https://huggingface.co"
"""reports/hub.json: {run_key: url of the published run folder}, read by report and audit."""
REPO_TYPE = "dataset"
REVISION = "main"
_REMOTE_RUNS_DIR = "runs"
_HTTP_CLIENT_ERRORS = (
    ("httpx2", "HTTPError"),
    ("httpx", "HTTPError"),
    ("requests", "RequestException"),
)
"""Base errors of the HTTP clients huggingface_hub has used: 2.x httpx2, 1.x httpx, 0.x requests."""
_ModelT = TypeVar("_ModelT", bound=BaseModel)


@dataclass(frozen=True)
class RunUpload:
    """What one run's commit adds: (path in the repo, local file) pairs, sorted by repo path."""

    run_key: str
    spec_hash: str
    files: tuple[tuple[str, Path], ...]


def resolve_endpoint(endpoint: str | None = None) -> str:
    """Return the Hub endpoint: `endpoint`, else $HF_ENDPOINT, else https://huggingface.co."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def run_url(repo_id: str, run_key: str, endpoint: str | None = None) -> str:
    """Return the browsable URL of a published run folder in the dataset repo."""
    return f"{resolve_endpoint(endpoint)}/datasets/{repo_id}/tree/{REVISION}/runs/{run_key}"


# --------------------------------------------------------------------------- what to upload


def _check_run_key(run_key: str) -> None:
    """Raise RlpipeError unless `run_key` is a plain folder name."""
    plain = PurePosixPath(run_key).name == run_key and "\\" not in run_key
    if not plain or run_key in ("", ".", ".."):
        raise RlpipeError(f"{run_key!r} is not a run name: give the name of a folder in runs/")


def _check_repo_id(repo_id: str) -> None:
    """Raise RlpipeError unless `repo_id` is a valid Hub repo id (namespace/name)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise RlpipeError(f"invalid Hub repo id {repo_id!r}: {error}") from None
    if repo_id.count("/") != 1:
        raise RlpipeError(
            f"invalid Hub repo id {repo_id!r}: use namespace/name, e.g. your-user/rlpipe-benchmarks"
        )


class _SeedResult(BaseModel):
    """The fields of seed-K/result.json (and of summary.json's per_seed) that publish checks."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    seed: int
    return_ma: float | None
    eval_return: float | None = None
    frames: Annotated[int, Field(ge=0)]
    wall_s: float
    fps: float


class _Summary(BaseModel):
    """The fields of summary.json that publish checks, with their JSON types."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    score: float | None
    score_iqm: float | None
    score_ci95: Annotated[list[float], Field(min_length=2, max_length=2)] | None
    eval_return: float | None
    frames: Annotated[int, Field(ge=0)]
    fps: float
    wall_s: float
    seeds: list[int]
    per_seed: list[_SeedResult]


def _damaged(path: Path, problem: str) -> RlpipeError:
    return RlpipeError(
        f"{path} {problem}: the run is damaged or unfinished; re-train it or restore the file "
        "(e.g. dvc checkout); nothing was uploaded"
    )


def _read_json(path: Path) -> Any:
    """Return the parsed JSON file at path; RlpipeError naming it if missing or not JSON."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise _damaged(path, "is missing") from None
    except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        raise _damaged(path, f"cannot be read as JSON ({error})") from None


def _typed(model: type[_ModelT], document: Any, path: Path) -> _ModelT:
    """Return document validated as model; RlpipeError naming the file and the key if not."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "the document"
        raise _damaged(path, f"has a wrong {key}: {first['msg']}") from None


def _symlinks_in(folder: Path) -> list[Path]:
    """Return folder, if it is a symlink, and every symlink below it (never followed)."""
    entries = [folder]
    for parent, dirs, files in os.walk(folder, followlinks=False):
        entries += [Path(parent, name) for name in sorted(dirs + files)]
    return [entry for entry in entries if entry.is_symlink()]


def _refuse_symlinks(run_key: str, links: list[Path]) -> None:
    """Raise RlpipeError naming the symlinks, if there are any."""
    if links:
        shown = ", ".join(str(link) for link in links[:5]) + (" ..." if len(links) > 5 else "")
        raise RlpipeError(
            f"run {run_key}: {shown} {'is a symlink' if len(links) == 1 else 'are symlinks'}; "
            "publish uploads only files inside the run folder, never what a link points to: "
            "replace each link by the file itself; nothing was uploaded"
        )


def _check_spec(run_dir: Path) -> tuple[Spec, str]:
    """Return the run's spec and hash from spec.json, checking that the spec hashes to it."""
    path = run_dir / SPEC_FILE
    if not path.is_file():
        raise RlpipeError(f"{run_dir} has no {SPEC_FILE}: it is not a run folder")
    saved = _read_json(path)
    spec_hash = saved.get("spec_hash") if isinstance(saved, dict) else None
    if not isinstance(spec_hash, str) or not spec_hash:
        raise RlpipeError(f"{path} has no spec_hash: it was not written by rlpipe train")
    try:
        spec = Spec.model_validate(saved.get("spec"))
    except ValidationError as error:
        problem = describe_validation_error(error, "spec").splitlines()[0]
        raise _damaged(path, f"holds no valid spec ({problem})") from None
    try:
        stored_hash = spec_document_hash(saved["spec"])
    except RlpipeError as error:
        raise _damaged(path, str(error)) from None
    if stored_hash != spec_hash:
        raise _damaged(path, f"holds a spec that does not hash to its spec_hash {spec_hash[:12]}")
    return spec, spec_hash


def _check_metrics(path: Path) -> None:
    """Raise RlpipeError unless metrics.csv has a header and whole rows of numbers only."""
    if not path.is_file():
        raise _damaged(path, "is missing")
    if not path.read_bytes().endswith(b"\n"):
        raise _damaged(path, "ends in a torn line")
    try:
        rows = read_rows(path)
    except RlpipeError as error:
        raise _damaged(path, f"is corrupt ({error})") from None
    if not rows or "frame" not in rows[0]:
        raise _damaged(path, "has no rows with a frame column")


def _check_weights(path: Path) -> None:
    """Raise RlpipeError unless path loads with torch.load(weights_only=True) as a mapping."""
    import torch

    try:
        weights = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for damaged or unsafe files
        reason = " ".join(str(error).split())[:200]
        raise _damaged(
            path, f"does not load as weights ({type(error).__name__}: {reason})"
        ) from None
    if not isinstance(weights, Mapping):
        raise _damaged(path, f"holds a {type(weights).__name__}, not a state dict")


def _weights_file(run_key: str, run_dir: Path, artifacts_root: Path, seed: int) -> Path:
    """Return the seed's model.pt: artifacts_root/<key>/seed-K/model.pt, else in the run folder."""
    in_artifacts = seed_dir(Path(artifacts_root) / run_key, seed) / MODEL_FILE
    in_run_dir = seed_dir(run_dir, seed) / MODEL_FILE
    chain = (in_artifacts.parent.parent, in_artifacts.parent, in_artifacts)
    _refuse_symlinks(run_key, [path for path in chain if path.is_symlink()])
    weights = in_artifacts if in_artifacts.is_file() else in_run_dir
    if not weights.is_file():
        raise RlpipeError(
            f"run {run_key} has no weights for {in_run_dir.parent.name}: expected {in_artifacts} (or "
            f"{in_run_dir}); nothing was uploaded"
        )
    return weights


def _is_published(relative: PurePosixPath) -> bool:
    """Whether a file of the run folder goes to the Hub: no checkpoints, temp or hidden files."""
    if CHECKPOINT_DIR in relative.parts[:-1] or relative.name == MODEL_FILE:
        return False  # resume state never leaves the machine; weights are added per seed
    return not any(part.startswith(".") for part in relative.parts)


def plan_run_upload(run_key: str, runs_root: Path, artifacts_root: Path) -> RunUpload:
    """Return the files one run publishes, after checking the whole run; raise RlpipeError if
    anything is missing, damaged or a symlink.

    Checked: spec.json (a valid spec that hashes to its spec_hash), provenance.json (the same
    hash), summary.json (its fields and types, the spec's seeds), and for each seed of the spec
    its folder, a metrics.csv of whole rows, result.json and weights that load with
    torch.load(weights_only=True). Weights come from artifacts_root/<key>/seed-K/model.pt,
    else from the run folder itself (where `rlpipe train` puts them without --artifacts).
    """
    from rlpipe.seedloop import RESULT_FILE

    _check_run_key(run_key)
    run_dir = Path(runs_root) / run_key
    if not run_dir.is_dir():
        raise RlpipeError(
            f"no run folder {run_dir}: train it first (rlpipe train, or dvc repro) or check the "
            "run name; nothing was uploaded"
        )
    _refuse_symlinks(run_key, _symlinks_in(run_dir))
    spec, spec_hash = _check_spec(run_dir)
    if not (run_dir / SUMMARY_FILE).is_file():
        raise RlpipeError(
            f"{run_dir} has no {SUMMARY_FILE}: the run has not finished; nothing was uploaded"
        )
    provenance = _read_json(run_dir / PROVENANCE_FILE)
    if not isinstance(provenance, dict) or provenance.get("spec_hash") != spec_hash:
        raise _damaged(run_dir / PROVENANCE_FILE, f"is not the provenance of spec {spec_hash[:12]}")
    summary = _typed(_Summary, _read_json(run_dir / SUMMARY_FILE), run_dir / SUMMARY_FILE)
    seeds = spec.meta.seed_list
    if summary.seeds != seeds:
        raise _damaged(run_dir / SUMMARY_FILE, f"has seeds {summary.seeds}, the spec {seeds}")

    remote_dir = PurePosixPath(_REMOTE_RUNS_DIR, run_key)
    files: dict[str, Path] = {}
    for path in sorted(run_dir.rglob("*")):
        relative = PurePosixPath(path.relative_to(run_dir).as_posix())
        if path.is_file() and _is_published(relative):
            if path.suffix == ".json":
                _read_json(path)
            files[str(remote_dir / relative)] = path
    extra = sorted(
        p.name for p in run_dir.glob("seed-*") if p.name not in {f"seed-{k}" for k in seeds}
    )
    if extra:
        raise _damaged(run_dir, f"has {', '.join(extra)}, not seeds of its spec ({seeds})")
    for seed in seeds:
        folder = seed_dir(run_dir, seed)
        if not folder.is_dir():
            raise _damaged(folder, f"is missing (the spec's seeds are {seeds})")
        _check_metrics(folder / METRICS_FILE)
        result = _typed(_SeedResult, _read_json(folder / RESULT_FILE), folder / RESULT_FILE)
        if result.seed != seed or result.frames != summary.frames:
            raise _damaged(
                folder / RESULT_FILE,
                f"is seed {result.seed} at {result.frames} frames, not seed {seed} at "
                f"{summary.frames}",
            )
        weights = _weights_file(run_key, run_dir, artifacts_root, seed)
        _check_weights(weights)
        files[str(remote_dir / folder.name / MODEL_FILE)] = weights
    return RunUpload(run_key, spec_hash, tuple(sorted(files.items())))


# --------------------------------------------------------------------------- errors


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types that mean the Hub was not reached (DNS, refused, timeout)."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module_name, error_name in _HTTP_CLIENT_ERRORS:
        error = getattr(sys.modules.get(module_name), error_name, None)
        if isinstance(error, type) and issubclass(error, BaseException):
            errors.append(error)
    return tuple(errors)


def _without_token(message: str, token: str | None) -> str:
    """Return `message` with the token, if any, masked."""
    return message.replace(token, "***") if token else message


@contextlib.contextmanager
def _hub_errors(action: str, endpoint: str, auth_hint: str, token: str | None) -> Iterator[None]:
    """Turn huggingface_hub and network failures inside the block into one-line RlpipeErrors."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        yield
    except OfflineModeIsEnabled:
        message = (
            f"{action}: huggingface_hub is in offline mode (HF_HUB_OFFLINE is set); unset it "
            f"to reach {endpoint}"
        )
        raise RlpipeError(message) from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            message = f"{action} was refused by {endpoint} (HTTP {status}): {auth_hint}"
        else:
            detail = (error.server_message or str(error).split("\n", 1)[0]).strip()
            detail = " ".join(detail.split())
            message = f"{action} failed at {endpoint} (HTTP {status}): {detail}"
        raise RlpipeError(_without_token(message, token)) from None
    except _transport_errors() as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        message = (
            f"{action}: could not reach the Hub at {endpoint} ({reason}); check the network "
            "connection, or HF_ENDPOINT if you use a mirror"
        )
        raise RlpipeError(_without_token(message, token)) from None
    except OSError as error:  # a local file that vanished or cannot be read during the upload
        raise RlpipeError(_without_token(f"{action} failed: {error}", token)) from None


def _auth_hint(repo_id: str, access: str) -> str:
    """Return what to do when the Hub refuses the token."""
    return (
        f"set HF_TOKEN to a Hugging Face token that can {access} {repo_id}, or log in with "
        "`hf auth login`"
    )


# --------------------------------------------------------------------------- public API


def publish_runs(
    run_keys: Iterable[str],
    repo_id: str,
    runs_root: Path = Path("runs"),
    artifacts_root: Path = Path("artifacts"),
    reports_dir: Path = Path("reports"),
    endpoint: str | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """Upload each run (one commit per run) to the dataset repo; return {run_key: run URL}.

    Every run is checked before anything is uploaded. reports/hub.json is updated atomically
    after each run's commit, so a failure part-way leaves the links of the runs already
    published.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    keys = list(dict.fromkeys(run_keys))
    if not keys:
        raise RlpipeError("no runs to publish: name at least one run folder")
    _check_repo_id(repo_id)
    uploads = [plan_run_upload(key, Path(runs_root), Path(artifacts_root)) for key in keys]
    links_path = Path(reports_dir) / HUB_LINKS_FILE
    links = read_hub_links(Path(reports_dir))

    hub = resolve_endpoint(endpoint)
    api = HfApi(endpoint=hub, token=token)
    hint = _auth_hint(repo_id, "write to")
    with _hub_errors(f"creating the dataset repo {repo_id}", hub, hint, token):
        api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=True)

    urls: dict[str, str] = {}
    for upload in uploads:
        operations = [
            CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=str(local))
            for path_in_repo, local in upload.files
        ]
        with _hub_errors(f"uploading run {upload.run_key} to {repo_id}", hub, hint, token):
            api.create_commit(
                repo_id,
                operations,
                commit_message=f"Publish run {upload.run_key} (spec {upload.spec_hash})",
                commit_description=(
                    f"rlpipe publish: run files and seed weights of {upload.run_key}, spec hash "
                    f"{upload.spec_hash}; resume checkpoints are not uploaded."
                ),
                repo_type=REPO_TYPE,
                revision=REVISION,
            )
        urls[upload.run_key] = run_url(repo_id, upload.run_key, hub)
        links[upload.run_key] = urls[upload.run_key]
        atomic_write_json(links_path, links)
    return urls


def remote_run_exists(
    repo_id: str, run_key: str, endpoint: str | None = None, token: str | None = None
) -> bool:
    """Return whether runs/<run_key>/summary.json is in the dataset repo (False if no such repo).

    Raises RlpipeError when the Hub cannot be reached or refuses the request.
    """
    from huggingface_hub import HfApi

    _check_run_key(run_key)
    _check_repo_id(repo_id)
    hub = resolve_endpoint(endpoint)
    api = HfApi(endpoint=hub, token=token)
    action = f"checking run {run_key} in {repo_id}"
    exists = False
    with _hub_errors(action, hub, _auth_hint(repo_id, "read"), token):
        exists = api.file_exists(
            repo_id,
            f"{_REMOTE_RUNS_DIR}/{run_key}/{SUMMARY_FILE}",
            repo_type=REPO_TYPE,
            revision=REVISION,
        )
    return exists
