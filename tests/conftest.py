"""Shared fixtures: the repo's pipelines folder and a factory for throwaway pipeline files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def pipelines_dir() -> Path:
    """The project's own pipelines/ folder."""
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
