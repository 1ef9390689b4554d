"""`rlpipe pull`: download a published run into a run folder, after checking it against its card.

The card (runs/<run>/README.md) states the run's spec hash, numbers and the sha256 of every
file published with it. A download is refused, and nothing is written to the destination,
when the repo holds files the card does not list or lacks files it lists, when a file's sha256
differs, when spec.json does not hash to the card's spec hash, when a seed's weights are missing
or unsafe to load, or when the card's numbers are not the run's. The run is downloaded into a
temporary folder beside the destination and renamed into place only when every check passed.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rlpipe.errors import RlpipeError
from rlpipe.hub.card import CardFacts, card_differences, read_card, sha256_file
from rlpipe.hub.client import download_run_files, list_run_files
from rlpipe.hub.folder_target import (
    copy_folder_run_files,
    folder_root,
    is_folder_source,
    list_folder_run_files,
    replace_with,
)
from rlpipe.hub.layout import is_run_file
from rlpipe.rundir import CARD_FILE, MODEL_FILE, RunFolder


@dataclass(frozen=True)
class PulledRun:
    """A run written by `pull_run`: where it is and what its card states."""

    path: Path
    facts: CardFacts


def _names(paths: list[str]) -> str:
    return ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


def _verify(staging: Path, facts: CardFacts, metadata: dict, listed: list[str]) -> None:
    """Raise RlpipeError unless the downloaded run is exactly what its card states."""
    wrong = [
        path for path in sorted(facts.files) if sha256_file(staging / path) != facts.files[path]
    ]
    if wrong:
        raise RlpipeError(f"{_names(wrong)}: sha256 differs from the card")
    run = RunFolder(staging)
    saved = run.read_spec()  # also checks that the spec hashes to spec.json's spec_hash
    if saved.spec_hash != facts.spec_hash:
        raise RlpipeError(
            f"spec.json has spec hash {saved.spec_hash[:12]}, the card {facts.spec_hash[:12]}"
        )
    for seed in saved.spec.meta.seed_list:
        weights = PurePosixPath(f"seed-{seed}", MODEL_FILE).as_posix()
        if weights not in listed:
            raise RlpipeError(f"the card lists no {weights} for seed {seed} of the spec")
        run.seed(seed).load_weights("cpu")  # tensors only: a crafted pickle is refused
    differences = card_differences(metadata, facts, run, {})
    if differences:
        raise RlpipeError(f"the card's numbers are not the run's: {'; '.join(differences[:5])}")


def pull_run(
    repo_id: str,
    run_key: str,
    out: Path | None = None,
    overwrite: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
) -> PulledRun:
    """Download runs/<run_key> of the dataset repo into `out` (default runs/<run_key>), checked
    against its model card; return where it went and the card's facts.

    A `repo_id` that is a folder path (/..., ./..., ../..., ~...) reads a folder written by
    `rlpipe publish --folder` instead of the Hub, with the same checks; a repo id that names a
    folder here without starting like a path is refused as ambiguous. A leading ~ in `out` is
    expanded as in a folder source. A refused pull leaves no folder it made behind."""
    if is_folder_source(repo_id):
        published = folder_root(repo_id)

        def fetch(paths: list[str], folder: Path) -> list[Path]:
            return copy_folder_run_files(published, run_key, paths, folder)

        remote = list_folder_run_files(published, run_key)
    else:
        check_not_a_folder(repo_id)

        def fetch(paths: list[str], folder: Path) -> list[Path]:
            return download_run_files(repo_id, run_key, paths, folder, endpoint, token)

        remote = list_run_files(repo_id, run_key, endpoint, token)  # checks repo id and run name
    out = Path(out).expanduser() if out is not None else Path("runs") / run_key
    check_destination(out)
    try:
        occupied = any(out.iterdir()) if out.is_dir() else out.exists()
    except OSError as error:
        raise RlpipeError(f"--out {out} cannot be read: {error.strerror or error}") from None
    if occupied and not overwrite:
        raise RlpipeError(
            f"{out} already exists: pull into another folder with --out, or replace it with "
            "--overwrite"
        )
    refused = f"run {run_key} from {repo_id} was refused, nothing was written to {out}"
    if not remote:
        raise RlpipeError(f"{repo_id} has no run {run_key} (no files under runs/{run_key}/)")
    if CARD_FILE not in remote:
        raise RlpipeError(
            f"{refused}: it has no model card ({CARD_FILE}) to check its files against; "
            "publish it again with rlpipe publish"
        )
    made = _missing_folders(out.parent)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _remove_empty(made)
        raise RlpipeError(
            f"--out {out}: cannot make its folder ({error.strerror or error})"
        ) from None
    try:
        facts = _download_checked(fetch, out, run_key, repo_id, remote, refused)
    except BaseException:
        _remove_empty(made)
        raise
    return PulledRun(out, facts)


Fetch = Callable[[list[str], Path], list[Path]]
"""(paths under runs/<run>/, folder) -> the copies of those there, written into the folder."""


def _download_checked(
    fetch: Fetch, out: Path, run_key: str, repo_id: str, remote: list[str], refused: str
) -> CardFacts:
    """Fetch the card and the files it lists into a staging folder beside `out`, check them all,
    then put the run at `out`; return the card's facts (RlpipeError, `out` untouched, if any
    check fails)."""
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.pull-", dir=out.parent) as root:
        staging = Path(root) / "run"
        staging.mkdir()
        fetched = fetch([CARD_FILE], staging)
        if not fetched:
            raise RlpipeError(f"{refused}: its card was listed but is gone; try again")
        card = fetched[0]
        source = f"{repo_id}: runs/{run_key}/{CARD_FILE}"
        try:
            text = card.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RlpipeError(f"{refused}: {source} is not UTF-8 text") from None
        try:
            metadata, facts = read_card(text, source)
        except RlpipeError as error:
            raise RlpipeError(f"{refused}: {error}") from None
        if facts.run != run_key:
            raise RlpipeError(f"{refused}: its card is the card of run {facts.run}")
        listed = sorted(facts.files)
        foreign = [name for name in listed if not is_run_file(name)]
        if foreign:
            raise RlpipeError(
                f"{refused}: its card lists files that rlpipe publish never uploads: "
                f"{_names(foreign)}"
            )
        clashing = [a for a in listed if any(b.startswith(f"{a}/") for b in listed)]
        if clashing:
            raise RlpipeError(f"{refused}: its card lists {_names(clashing)} as files and folders")
        extra = sorted(set(remote) - {*listed, CARD_FILE})
        missing = sorted(set(listed) - set(remote))
        if extra or missing:
            problems = ([f"files the card does not list: {_names(extra)}"] if extra else []) + (
                [f"files the card lists that are not there: {_names(missing)}"] if missing else []
            )
            raise RlpipeError(f"{refused}: {'; '.join(problems)}")
        got = fetch(listed, staging)
        if len(got) != len(listed):
            gone = sorted(set(listed) - {path.relative_to(staging).as_posix() for path in got})
            raise RlpipeError(f"{refused}: listed files are gone from the repo: {_names(gone)}")
        oversized = [
            f"{name} ({(staging / name).stat().st_size / 2**20:,.0f} MiB)"
            for name in listed
            if (staging / name).stat().st_size > size_limit(name)
        ]
        if oversized:
            raise RlpipeError(f"{refused}: files above rlpipe's size limits: {_names(oversized)}")
        try:
            _verify(staging, facts, metadata, listed)
        except RlpipeError as error:
            raise RlpipeError(f"{refused}: {error}") from None
        replace_with(out, staging, Path(root))
    return facts


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, deepest first: what
    mkdir(parents=True) would make."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a refused pull made (deepest first), each only if it is empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue  # never made (mkdir failed below it)
        except OSError:
            return  # not empty: leave it and the folders above it


def check_not_a_folder(repo_id: str) -> None:
    """Refuse a Hub repo id that also names a folder here: `shared/rlpipe` could mean either,
    and a folder source starts like a path (./shared/rlpipe)."""
    if Path(repo_id).is_dir():
        raise RlpipeError(
            f"{repo_id} is ambiguous: it is a folder here, and a Hub repo id; to pull from the "
            f"folder, write it as a path: rlpipe pull {shlex.quote(f'./{repo_id}')} ...; to pull "
            "from the Hub repo, run rlpipe pull where no folder has that name"
        )


MODEL_SIZE_LIMIT = 2 * 2**30
"""Largest weights file a pull accepts (a 2048-wide CrossQ with optimiser-free weights is far
below it); other files are records, plots and GIFs."""
FILE_SIZE_LIMIT = 256 * 2**20


def size_limit(name: str) -> int:
    """The most bytes a pulled file may have."""
    return MODEL_SIZE_LIMIT if name.endswith(f"/{MODEL_FILE}") else FILE_SIZE_LIMIT


def check_destination(out: Path) -> None:
    """Refuse a --out that a pull must never replace: a symlink, the current folder or one of
    its parents (the project root among them)."""
    if out.is_symlink():
        raise RlpipeError(
            f"--out {out} is a symlink; pull into a real folder (the link's target is left as is)"
        )
    here = Path.cwd().resolve()
    target = out.resolve()
    if target == here or target in here.parents:
        raise RlpipeError(
            f"--out {out} is the current folder or a folder above it; pull into a folder of its "
            "own, e.g. runs/<run>"
        )
