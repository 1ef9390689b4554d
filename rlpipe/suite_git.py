"""`rlpipe suite run --git-commit`: each finished stage goes into a git commit of its own, so
that a session that ends abruptly keeps every stage it finished (DVC records a stage in
dvc.lock; only git keeps dvc.lock and the run files).

A commit holds dvc.lock and, for each output of the stages, the output itself when git tracks
it (run files, `cache: false`) or the .gitignore DVC keeps beside it when the DVC cache holds it
(weights), unless git ignores that .gitignore (a folder ignored whole further up). Nothing else
in the working tree is added.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from rlpipe.errors import RlpipeError


def stage_git_paths(root: Path, stages: Iterable[str]) -> list[str]:
    """dvc.lock and what git keeps of the named stages' outputs, existing paths only."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    wanted = set(stages)
    paths = ["dvc.lock"]
    try:
        with Repo(str(root)) as repo:
            for stage in repo.index.stages:
                if stage.addressing not in wanted:
                    continue
                for out in stage.outs:
                    path = Path(out.def_path)
                    paths.append((path.parent / ".gitignore" if out.use_cache else path).as_posix())
    except DvcException as exc:
        raise RlpipeError(f"dvc cannot read the stages' outputs: {exc}") from None
    existing = sorted({path for path in paths if (root / path).exists()})
    ignored = set(_ignored_untracked(root, existing))
    return [path for path in existing if path not in ignored]


def _ignored_untracked(root: Path, paths: list[str]) -> list[str]:
    """The paths git ignores and does not track (`git add` refuses them): a .gitignore DVC
    wrote inside a folder that a .gitignore further up ignores whole."""
    if not paths:
        return []
    try:
        completed = subprocess.run(
            ["git", "check-ignore", "--stdin"],
            cwd=root,
            input="\n".join(paths),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise RlpipeError(f"git check-ignore: {exc.strerror or exc}") from None
    if completed.returncode not in (0, 1):  # 1: none of them is ignored
        raise RlpipeError(f"git check-ignore failed: {completed.stderr.strip()[-1000:]}")
    return completed.stdout.splitlines()


def commit_stages(root: Path, stages: Iterable[str], message: str) -> bool:
    """Commit dvc.lock and the stages' outputs that git keeps; False if nothing changed."""
    paths = stage_git_paths(root, stages)
    run_git(root, "add", "--", *paths)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--quiet", "--", *paths],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if staged.returncode == 0:
        return False
    run_git(root, "commit", "-q", "-m", message, "--", *paths)
    return True


def run_git(root: Path, *args: str) -> str:
    """Run git in root; its standard output, or a clear error with the end of its output."""
    try:
        completed = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise RlpipeError(f"git {args[0]}: {exc.strerror or exc}") from None
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise RlpipeError(f"git {args[0]} failed: {output[-1000:]}")
    return completed.stdout
