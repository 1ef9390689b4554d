"""A throwaway git + DVC copy of the repo with the 2-run smoke suite, for `rlpipe suite run`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

BIN = Path(sys.executable).parent
COPIED = ["rlpipe", "pipelines", "params", "references", "dvc.yaml", ".dvcignore", "pyproject.toml"]
# A typo in sac.yaml's pendulum spec, which only sac-pendulum's train stages depend on: the spec
# validates, so the suite's stages are planned, and training fails on the env id.
BROKEN_SAC_PENDULUM = (
    "    env: {id: Pendulum-v1}\n    meta: {eval_interval: 5000}",
    "    env: {id: Pendulum-v0}\n    meta: {eval_interval: 5000}",
)
# A typo the spec layer refuses: found before any stage trains.
INVALID_SAC_PENDULUM = (
    "  pendulum:\n    vars: {max_frame: 3e5}\n    algorithm: {learning_starts: 1000,",
    "  pendulum:\n    vars: {max_frame: 3e5}\n    algorithm: {learning_startz: 1000,",
)


def environment(**extra: str) -> dict[str, str]:
    """This environment with the test's Python first on PATH and the Hub offline."""
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "HF_HUB_OFFLINE": "1", **extra}


def run(cwd: Path, *command: str, check: bool = True, env=None) -> subprocess.CompletedProcess:
    """Run a command in cwd; with check, fail the test with its output if it fails."""
    result = subprocess.run(
        command, cwd=cwd, env=env or environment(), capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def init_project(root: Path, suite: str | None = None) -> Path:
    """Copy the repo's pipeline into root as a git + DVC repo with a suite file (`suite`'s text,
    or the smoke suite) and its generated dvc.yaml; nothing committed or trained yet."""
    root.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    if suite is None:
        shutil.copy2(root / "params" / "suite-smoke.yaml", root / "params" / "suite.yaml")
    else:
        (root / "params" / "suite.yaml").write_text(suite)
    run(root, "git", "init", "-q")
    run(root, "git", "config", "user.email", "ci@example.invalid")
    run(root, "git", "config", "user.name", "ci")
    run(root, "dvc", "init", "-q")
    run(root, "dvc", "config", "core.analytics", "false")
    run(root, "rlpipe", "suite", "stages")
    return root


def make_project(root: Path) -> Path:
    """Copy the repo's pipeline into root with the smoke suite, as a committed git+DVC repo."""
    init_project(root)
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "smoke suite")
    return root
