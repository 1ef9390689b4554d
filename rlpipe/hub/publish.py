"""`rlpipe publish`: upload run folders, each with its model card, to a Hugging Face Hub
dataset repo, and record their links in reports/hub.json.

Layout in the dataset repo: `runs/<run_key>/` holds the run's small files (spec, provenance,
summary, eval, per-seed metrics and results) plus `runs/<run_key>/seed-K/model.pt`, the
weights, and the generated model card (README.md, with learning-curve.png and replay.gif; see
rlpipe.hub.card and rlpipe.hub.assets). Resume checkpoints (optimizer and replay buffer) are
never uploaded. The token comes from the caller or from huggingface_hub's own lookup (HF_TOKEN,
`hf auth login`) and is never written anywhere by this module, nor put in an error message.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rlpipe.errors import RlpipeError
from rlpipe.hub.assets import write_card_files
from rlpipe.hub.client import (
    REPO_TYPE,
    REVISION,
    auth_hint,
    check_repo_id,
    check_run_key,
    hub_errors,
    remote_run_dir,
)
from rlpipe.hub.folder_target import write_folder_run
from rlpipe.hub.layout import is_run_file
from rlpipe.report.hub_links import HUB_LINKS_FILE, read_hub_links, resolve_endpoint, run_url
from rlpipe.rundir import (
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
from rlpipe.spec.load import closest

NOTHING_UPLOADED = "nothing was uploaded"


@dataclass(frozen=True)
class RunUpload:
    """What one run's commit adds: (path in the repo, local file) pairs, sorted by repo path."""

    run_key: str
    spec_hash: str
    files: tuple[tuple[str, Path], ...]


# --------------------------------------------------------------------------- what to upload


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
    content = path.read_bytes()
    if not content:
        raise _damaged(path, "is empty")
    if not content.endswith(b"\n"):
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
    """Whether a file of the run folder goes to the Hub: the run files rlpipe pull accepts, no
    checkpoints (weights are added per seed, from the artifacts), no card of a pulled run."""
    if CHECKPOINT_DIR in relative.parts[:-1] or relative.name == MODEL_FILE:
        return False  # resume state never leaves the machine; weights are added per seed
    if relative.as_posix() in CARD_FILES:
        return False  # the card of a pulled run: publish writes a new one
    return is_run_file(relative.as_posix())


def left_out_files(run_dir: Path) -> list[str]:
    """Files of a run folder that publish leaves out and that are not rlpipe's own bookkeeping
    (hidden files, checkpoints, weights, a pulled card): a profile, a video, notes; the caller
    says so, since a pull could not take them."""
    left_out = []
    for path in sorted(run_dir.rglob("*")):
        relative = PurePosixPath(path.relative_to(run_dir).as_posix())
        own = (
            any(part.startswith(".") for part in relative.parts)
            or CHECKPOINT_DIR in relative.parts[:-1]
            or relative.name == MODEL_FILE
            or relative.as_posix() in CARD_FILES
        )
        if path.is_file() and not own and not _is_published(relative):
            left_out.append(relative.as_posix())
    return left_out


def plan_run_upload(
    run_key: str, runs_root: Path, artifacts_root: Path, pipelines: Path = Path("pipelines")
) -> RunUpload:
    """Return the files one run publishes, after checking the whole run; raise RlpipeError if
    anything is missing, damaged or a symlink.

    Checked: spec.json (a valid spec that hashes to its spec_hash), provenance.json (the same
    hash), summary.json (its fields and types, the spec's seeds), and for each seed of the spec
    its folder, a metrics.csv of whole rows, result.json and weights that load with
    torch.load(weights_only=True). Weights come from artifacts_root/<key>/seed-K/model.pt,
    else from the run folder itself (where `rlpipe train` puts them without --artifacts). The
    spec's family must have its pipeline file in `pipelines`: the card tells readers to re-train
    with `rlpipe train <family> <spec>`.
    """
    check_run_key(run_key)
    run_dir = Path(runs_root) / run_key
    if not run_dir.is_dir():
        folders = (
            [p.name for p in Path(runs_root).iterdir() if p.is_dir()]
            if Path(runs_root).is_dir()
            else []
        )
        raise RlpipeError(
            f"no run folder {run_dir}{closest(run_key, folders)}: train it first (rlpipe train, "
            f"or dvc repro) or check the run name; {NOTHING_UPLOADED}"
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
    family = saved.spec.family
    if not (Path(pipelines) / f"{family}.yaml").is_file():
        raise RlpipeError(
            f"{run.spec_file} names family {family!r}, which has no pipeline file "
            f"{Path(pipelines) / family}.yaml here: publish a run from the project whose "
            f"pipelines can re-train it (its card says how); {NOTHING_UPLOADED}"
        )
    seeds = saved.spec.meta.seed_list
    if summary.seeds != seeds:
        raise _damaged(run.summary_file, f"has seeds {summary.seeds}, the spec {seeds}")

    remote_dir = remote_run_dir(run_key)
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
    pipelines: Path = Path("pipelines"),
    folder: Path | None = None,
) -> dict[str, str]:
    """Upload each run (one commit per run) with its model card to the dataset repo; return
    {run_key: run URL}. With `folder`, write them into that local folder instead, in the
    repo's layout (folder/runs/<run_key>/), and return {run_key: its folder}; `repo_id` is
    then unused and the report's links are left alone.

    Every run is checked, and its card (with the learning curve and, unless `replay` is False,
    a replay GIF) made, before anything is uploaded. reports/hub.json is updated atomically
    after each run's commit, so a failure part-way leaves the links of the runs already
    published.
    """
    import tempfile
    from shlex import quote

    keys = list(dict.fromkeys(run_keys))
    if not keys:
        raise RlpipeError("no runs to publish: name at least one run folder")
    if folder is None:
        check_repo_id(repo_id)
    else:  # the card's `rlpipe pull` command then names the folder
        repo_id = quote(Path(folder).expanduser().resolve().as_posix())
    uploads = [
        plan_run_upload(key, Path(runs_root), Path(artifacts_root), Path(pipelines)) for key in keys
    ]
    with tempfile.TemporaryDirectory(prefix="rlpipe-cards-") as cards:
        with _nothing_uploaded():
            uploads = [
                _with_card(upload, Path(runs_root), Path(cards), repo_id, replay)
                for upload in uploads
            ]
        if folder is not None:
            return _write_runs(uploads, Path(folder).expanduser())
        return _commit_runs(uploads, repo_id, Path(reports_dir), endpoint, token)


def _write_runs(uploads: list[RunUpload], folder: Path) -> dict[str, str]:
    """Write each upload into the local folder, whole, one run after the other."""
    written = {}
    for upload in uploads:
        prefix = remote_run_dir(upload.run_key)
        files = [(PurePosixPath(path).relative_to(prefix).as_posix(), local)
                 for path, local in upload.files]  # fmt: skip
        written[upload.run_key] = write_folder_run(folder, upload.run_key, files).as_posix()
    return written


def _with_card(
    upload: RunUpload, runs_root: Path, cards: Path, repo_id: str, replay: bool
) -> RunUpload:
    """The upload with the run's model card and its pictures, written under cards/<run_key>."""
    prefix = remote_run_dir(upload.run_key)
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
    hint = auth_hint(repo_id, "write to")
    with hub_errors(f"creating the dataset repo {repo_id}", hub, hint, token):
        api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=True)

    urls: dict[str, str] = {}
    for index, upload in enumerate(uploads):
        operations = [
            CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=str(local))
            for path_in_repo, local in upload.files
        ]
        action = f"uploading run {upload.run_key} to {repo_id}"
        pending = [later.run_key for later in uploads[index:]]
        with (
            _say_what_was_published(urls, pending, links_path),
            hub_errors(action, hub, hint, token),
        ):
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


@contextlib.contextmanager
def _say_what_was_published(
    published: Mapping[str, str], pending: list[str], links_path: Path
) -> Iterator[None]:
    """A failure or Ctrl-C part-way names the runs already on the Hub (their links are in
    reports/hub.json) and the ones that are not, and how to relink the report."""
    try:
        yield
    except (RlpipeError, KeyboardInterrupt) as error:
        if not published:
            raise
        cause = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
        raise RlpipeError(
            f"{cause}; published: {', '.join(published)} (linked in {links_path}); not "
            f"published: {', '.join(pending)}; run `rlpipe report` to relink the report, and "
            "publish the rest again"
        ) from None
