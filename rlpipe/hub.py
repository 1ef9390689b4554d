"""Publish run folders to a Hugging Face Hub dataset repo and check that published runs exist.

Layout in the dataset repo: `runs/<run_key>/` holds the run's small files (spec, provenance,
summary, eval, per-seed metrics and results) plus `runs/<run_key>/seed-K/model.pt`, the
weights, and the generated model card (README.md, with learning-curve.png and replay.gif; see
rlpipe.sharing). Resume checkpoints (optimizer and replay buffer) are never uploaded. The token comes
from the caller or from huggingface_hub's own lookup (HF_TOKEN, `hf auth login`) and is never
written anywhere by this module, nor put in an error message.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rlpipe.errors import RlpipeError
from rlpipe.rundir import (
    CARD_FILE,
    CARD_FILES,
    CHECKPOINT_DIR,
    MODEL_FILE,
    SUMMARY_FILE,
    RunFolder,
    SeedFolder,
    atomic_write_json,
    read_json,
)
from rlpipe.rundir.folder import load_tensors

DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_LINKS_FILE = "hub.json"
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
NOTHING_UPLOADED = "nothing was uploaded"


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


def read_hub_links(reports_dir: Path = Path("reports")) -> dict[str, str]:
    """Return reports/hub.json as {run_key: Hub URL}, {} if the file does not exist."""
    path = Path(reports_dir) / HUB_LINKS_FILE
    if not path.exists():
        return {}
    links = read_json(path, "fix it or delete it (rlpipe publish writes it again)")
    if not isinstance(links, dict) or not all(
        isinstance(key, str) and isinstance(url, str) for key, url in links.items()
    ):
        raise RlpipeError(f"{path} should map run names to URLs; fix it or delete it")
    return links


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


def _damaged(path: Path, problem: str) -> RlpipeError:
    return RlpipeError(
        f"{path} {problem}: the run is damaged or unfinished; re-train it or restore the file "
        f"(e.g. dvc checkout); {NOTHING_UPLOADED}"
    )


@contextlib.contextmanager
def _nothing_uploaded() -> Iterator[None]:
    """Say, in the run folder's own errors, that nothing was uploaded."""
    try:
        yield
    except RlpipeError as error:
        message = str(error)
        if message.endswith(NOTHING_UPLOADED):
            raise
        raise RlpipeError(f"{message.rstrip('.')}; {NOTHING_UPLOADED}") from None


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


def _check_metrics(seed: SeedFolder) -> None:
    """Raise RlpipeError unless metrics.csv has a header and whole rows of numbers only."""
    path = seed.metrics
    if not path.is_file():
        raise _damaged(path, "is missing")
    if not path.read_bytes().endswith(b"\n"):
        raise _damaged(path, "ends in a torn line")
    rows = seed.read_metrics()
    missing = [column for column in ("frame", "return_ma") if not rows or column not in rows[0]]
    if missing:
        raise _damaged(path, f"has no rows with a {' and '.join(missing)} column")


def _check_weights(path: Path) -> None:
    """Raise RlpipeError unless path loads with torch.load(weights_only=True) as a mapping."""
    weights = load_tensors(path, "cpu", "re-train the seed or restore the file")
    if not isinstance(weights, Mapping):
        raise _damaged(path, f"holds a {type(weights).__name__}, not a state dict")


def _weights_file(run_key: str, seed: SeedFolder, in_run_dir: Path) -> Path:
    """Return the seed's model.pt: artifacts_root/<key>/seed-K/model.pt, else in the run folder."""
    chain = (seed.artifacts.parent, seed.artifacts, seed.model)
    _refuse_symlinks(run_key, [path for path in chain if path.is_symlink()])
    weights = seed.model if seed.model.is_file() else in_run_dir
    if not weights.is_file():
        raise RlpipeError(
            f"run {run_key} has no weights for {seed.path.name}: expected {seed.model} (or "
            f"{in_run_dir}); {NOTHING_UPLOADED}"
        )
    return weights


def _is_published(relative: PurePosixPath) -> bool:
    """Whether a file of the run folder goes to the Hub: no checkpoints, temp or hidden files."""
    if CHECKPOINT_DIR in relative.parts[:-1] or relative.name == MODEL_FILE:
        return False  # resume state never leaves the machine; weights are added per seed
    if relative.as_posix() in CARD_FILES:
        return False  # the card of a pulled run: publish writes a new one
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
    _check_run_key(run_key)
    run_dir = Path(runs_root) / run_key
    if not run_dir.is_dir():
        raise RlpipeError(
            f"no run folder {run_dir}: train it first (rlpipe train, or dvc repro) or check the "
            f"run name; {NOTHING_UPLOADED}"
        )
    _refuse_symlinks(run_key, _symlinks_in(run_dir))
    run = RunFolder(run_dir, Path(artifacts_root) / run_key)
    with _nothing_uploaded():
        saved = run.read_spec()
        if not run.finished():
            raise RlpipeError(f"{run_dir} has no {SUMMARY_FILE}: the run has not finished")
        provenance = run.read_provenance()
        if provenance.get("spec_hash") != saved.spec_hash:
            raise _damaged(
                run.provenance_file, f"is not the provenance of spec {saved.spec_hash[:12]}"
            )
        summary = run.read_summary()
    seeds = saved.spec.meta.seed_list
    if summary.seeds != seeds:
        raise _damaged(run.summary_file, f"has seeds {summary.seeds}, the spec {seeds}")

    remote_dir = PurePosixPath(_REMOTE_RUNS_DIR, run_key)
    files: dict[str, Path] = {}
    with _nothing_uploaded():
        for path in sorted(run_dir.rglob("*")):
            relative = PurePosixPath(path.relative_to(run_dir).as_posix())
            if path.is_file() and _is_published(relative):
                if path.suffix == ".json":
                    read_json(path, "re-train the run or restore the file")
                files[str(remote_dir / relative)] = path
    extra = sorted(
        p.name for p in run_dir.glob("seed-*") if p.name not in {f"seed-{k}" for k in seeds}
    )
    if extra:
        raise _damaged(run_dir, f"has {', '.join(extra)}, not seeds of its spec ({seeds})")
    for seed in seeds:
        folder = run.seed(seed)
        if not folder.path.is_dir():
            raise _damaged(folder.path, f"is missing (the spec's seeds are {seeds})")
        with _nothing_uploaded():
            _check_metrics(folder)
            result = folder.read_result()
        if result is None:
            raise _damaged(folder.result, "is missing")
        if result.seed != seed or result.frames != summary.frames:
            raise _damaged(
                folder.result,
                f"is seed {result.seed} at {result.frames} frames, not seed {seed} at "
                f"{summary.frames}",
            )
        weights = _weights_file(run_key, folder, folder.path / MODEL_FILE)
        with _nothing_uploaded():
            _check_weights(weights)
        files[str(remote_dir / folder.path.name / MODEL_FILE)] = weights
    return RunUpload(run_key, saved.spec_hash, tuple(sorted(files.items())))


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
    replay: bool = True,
) -> dict[str, str]:
    """Upload each run (one commit per run) with its model card to the dataset repo; return
    {run_key: run URL}.

    Every run is checked, and its card (with the learning curve and, unless `replay` is False,
    a replay GIF) made, before anything is uploaded. reports/hub.json is updated atomically
    after each run's commit, so a failure part-way leaves the links of the runs already
    published.
    """
    import tempfile

    keys = list(dict.fromkeys(run_keys))
    if not keys:
        raise RlpipeError("no runs to publish: name at least one run folder")
    _check_repo_id(repo_id)
    uploads = [plan_run_upload(key, Path(runs_root), Path(artifacts_root)) for key in keys]
    with tempfile.TemporaryDirectory(prefix="rlpipe-cards-") as cards:
        with _nothing_uploaded():
            uploads = [
                _with_card(upload, Path(runs_root), Path(cards), repo_id, replay)
                for upload in uploads
            ]
        return _commit_runs(uploads, repo_id, Path(reports_dir), endpoint, token)


def _with_card(
    upload: RunUpload, runs_root: Path, cards: Path, repo_id: str, replay: bool
) -> RunUpload:
    """The upload with the run's model card and its pictures, written under cards/<run_key>."""
    from rlpipe.sharing.assets import write_card_files

    prefix = PurePosixPath(_REMOTE_RUNS_DIR, upload.run_key)
    published = {PurePosixPath(path).relative_to(prefix).as_posix(): local
                 for path, local in upload.files}  # fmt: skip
    run_dir = runs_root / upload.run_key
    first_seed = RunFolder(run_dir).read_spec().spec.meta.seed_list[0]
    weights = published[PurePosixPath(f"seed-{first_seed}", MODEL_FILE).as_posix()]
    run = RunFolder(run_dir, weights.parent.parent)
    folder = cards / upload.run_key
    folder.mkdir(parents=True)
    card = write_card_files(run, upload.run_key, repo_id, published, folder, replay)
    added = tuple((str(prefix / path), local) for path, local in card.items())
    return RunUpload(upload.run_key, upload.spec_hash, tuple(sorted(upload.files + added)))


def _commit_runs(
    uploads: list[RunUpload],
    repo_id: str,
    reports_dir: Path,
    endpoint: str | None,
    token: str | None,
) -> dict[str, str]:
    """Commit each upload to the dataset repo, recording its link after each commit."""
    from huggingface_hub import CommitOperationAdd, HfApi

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


def _remote_run_dir(run_key: str) -> PurePosixPath:
    return PurePosixPath(_REMOTE_RUNS_DIR, run_key)


def fetch_card(
    repo_id: str, run_key: str, endpoint: str | None = None, token: str | None = None
) -> str | None:
    """Return the text of a published run's model card (runs/<run_key>/README.md), None if
    the run has no card. Raises RlpipeError when the Hub cannot be reached or refuses."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rlpipe-card-") as folder:
        found = download_run_files(repo_id, run_key, [CARD_FILE], Path(folder), endpoint, token)
        if not found:
            return None
        try:
            return found[0].read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RlpipeError(f"the card of run {run_key} in {repo_id} is not UTF-8 text") from None


def list_run_files(
    repo_id: str, run_key: str, endpoint: str | None = None, token: str | None = None
) -> list[str]:
    """Return the files of a published run, as paths relative to runs/<run_key>/, sorted."""
    from huggingface_hub import HfApi

    _check_run_key(run_key)
    _check_repo_id(repo_id)
    hub = resolve_endpoint(endpoint)
    api = HfApi(endpoint=hub, token=token)
    prefix = f"{_remote_run_dir(run_key)}/"
    with _hub_errors(
        f"listing run {run_key} in {repo_id}", hub, _auth_hint(repo_id, "read"), token
    ):
        info = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=REVISION)
    names = [sibling.rfilename for sibling in info.siblings or []]
    return sorted(name.removeprefix(prefix) for name in names if name.startswith(prefix))


def download_run_files(
    repo_id: str,
    run_key: str,
    paths: Iterable[str],
    folder: Path,
    endpoint: str | None = None,
    token: str | None = None,
) -> list[Path]:
    """Download files of a published run (paths relative to runs/<run_key>/) into
    folder/<path>; return the local paths of those that exist in the repo, in order."""
    import shutil
    import tempfile

    from huggingface_hub import HfApi
    from huggingface_hub.errors import EntryNotFoundError

    _check_run_key(run_key)
    _check_repo_id(repo_id)
    hub = resolve_endpoint(endpoint)
    api = HfApi(endpoint=hub, token=token)
    hint = _auth_hint(repo_id, "read")
    found = []
    with tempfile.TemporaryDirectory(prefix=".rlpipe-download-", dir=folder.parent) as staging:
        for path in paths:
            remote = str(_remote_run_dir(run_key) / path)
            with _hub_errors(f"downloading {remote} from {repo_id}", hub, hint, token):
                try:
                    local = api.hf_hub_download(
                        repo_id, remote, repo_type=REPO_TYPE, revision=REVISION, local_dir=staging
                    )
                except EntryNotFoundError:
                    continue
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(local, target)
            found.append(target)
    return found
