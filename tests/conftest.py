"""Shared fixtures: the test fixture pipelines, the repo's own pipelines folder, and a factory
for throwaway pipeline files.

Unit tests of code behaviour read `fixture_pipelines` (tests/pipelines/: small specs whose
values are chosen for the tests), so retuning a production spec in pipelines/ changes no such
test. Only the repo-data tests (tests/unit/test_repo_pipelines.py, and tests of the committed
suite and dvc.yaml) read `pipelines_dir`, the real folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE_PIPELINES = REPO / "tests" / "pipelines"
"""The test fixture pipelines: one small <family>.yaml per family, values chosen for the tests."""
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def fixture_pipelines() -> Path:
    """The test fixture pipelines (tests/pipelines/), for tests of code behaviour."""
    return FIXTURE_PIPELINES


@pytest.fixture
def pipelines_dir() -> Path:
    """The project's own pipelines/ folder, for tests of the real pipelines' data only."""
    return REPO / "pipelines"


@pytest.fixture
def write_pipeline(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write tmp_path/pipelines/<family>.yaml with the given text; returns the folder."""

    def write(family: str, text: str) -> Path:
        folder = tmp_path / "pipelines"
        folder.mkdir(exist_ok=True)
        (folder / f"{family}.yaml").write_text(text)
        return folder

    return write
