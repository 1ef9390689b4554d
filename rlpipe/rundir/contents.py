"""What a run writes into its folders, told apart from anything else there: `--overwrite`
deletes only that, and a folder that holds anything more is refused before training (a mistyped
`--out runs` must not become a run, nor `--overwrite` delete the runs beside it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rlpipe.errors import RlpipeError
from rlpipe.rundir.folder import (
    CARD_FILES,
    EVAL_FILE,
    GROUPS_DIR,
    PROVENANCE_FILE,
    SPEC_FILE,
    SUMMARY_FILE,
    RunFolder,
)

RUN_ENTRIES = frozenset({SPEC_FILE, PROVENANCE_FILE, SUMMARY_FILE, EVAL_FILE, GROUPS_DIR})
"""The run folder's own entries besides its seed-K folders and a pulled run's card."""
CARD_MARK = b"library_name: rlpipe"
"""In the YAML header of every model card `rlpipe publish` writes (and `rlpipe pull` keeps)."""

_SEED_FOLDER = re.compile(r"seed-\d+")


def _is_seed_folder(entry: Path) -> bool:
    return _SEED_FOLDER.fullmatch(entry.name) is not None and entry.is_dir()


def _foreign(folder: Path, own: frozenset[str]) -> list[Path]:
    """Entries of folder that no run writes there; hidden ones (atomic writes' temp files, a
    .gitignore) aside."""
    if not folder.is_dir():
        return []
    return sorted(
        entry
        for entry in folder.iterdir()
        if not entry.name.startswith(".") and entry.name not in own and not _is_seed_folder(entry)
    )


def _run_entries(run: RunFolder) -> frozenset[str]:
    """What a run writes in its folder: with rlpipe's model card (a pulled run), the card and
    its pictures too; a README.md of anyone else's is not the run's."""
    card = run.path / CARD_FILES[0]
    try:
        pulled = card.is_file() and CARD_MARK in card.read_bytes()[:4096]
    except OSError:
        pulled = False
    return RUN_ENTRIES | frozenset(CARD_FILES) if pulled else RUN_ENTRIES


def _separate_artifacts(run: RunFolder) -> bool:
    return run.artifacts.resolve() != run.path.resolve()


def foreign_entries(run: RunFolder) -> tuple[list[Path], list[Path]]:
    """What the run folder, and the artifacts folder when it is another, hold that no run
    writes there: (in the run folder, in the artifacts folder)."""
    artifacts = _foreign(run.artifacts, frozenset()) if _separate_artifacts(run) else []
    return _foreign(run.path, _run_entries(run)), artifacts


def _listed(paths: list[Path]) -> str:
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return ", ".join(str(path) for path in paths[:3]) + more


def check_own_folders(run: RunFolder, overwrite: bool) -> None:
    """Raise RlpipeError, touching nothing, if the run folder or its artifacts folder holds
    anything a run does not write: a run (and `--overwrite`) needs folders of its own."""
    in_run, in_artifacts = foreign_entries(run)
    for foreign, folder, flag in (
        (in_run, run.path, "--out"),
        (in_artifacts, run.artifacts, "--artifacts"),
    ):
        if not foreign:
            continue
        what = f"{_listed(foreign)} {'is' if len(foreign) == 1 else 'are'} not part of a run"
        if overwrite:
            raise RlpipeError(
                f"--overwrite deletes a run's files, and {folder} holds more: {what}. Nothing "
                f"was deleted; move them away, or give the run's own folder with {flag}"
            )
        raise RlpipeError(
            f"{flag} {folder} already holds files: {what}. A run needs a folder of its own: "
            f"choose a new or empty one with {flag}"
        )


def remove_run(run: RunFolder) -> None:
    """Delete every entry a run writes in its folder and its artifacts folder, and nothing
    else (`check_own_folders` first, so that nothing else is there)."""
    folders = [run.path, run.artifacts] if _separate_artifacts(run) else [run.path]
    own = _run_entries(run)
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if not (_is_seed_folder(entry) or (folder == run.path and entry.name in own)):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
