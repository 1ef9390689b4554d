"""rlpipe.codedeps: the rlpipe files a module's imports reach, read from the source."""

from __future__ import annotations

from pathlib import Path

from rlpipe.codedeps import imported_files


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_imports_only_a_type_checker_reads_are_not_dependencies(tmp_path: Path) -> None:
    _write(tmp_path, "rlpipe/__init__.py", "")
    _write(tmp_path, "rlpipe/typed.py", "")
    _write(tmp_path, "rlpipe/fallback.py", "")
    _write(tmp_path, "rlpipe/late.py", "")
    _write(
        tmp_path,
        "rlpipe/main.py",
        "from typing import TYPE_CHECKING\n"
        "import typing\n"
        "if TYPE_CHECKING:\n"
        "    from rlpipe.typed import Thing\n"
        "else:\n"
        "    import rlpipe.fallback\n"
        "if typing.TYPE_CHECKING:\n"
        "    import rlpipe.typed\n"
        "def f():\n"
        "    from rlpipe import late\n",
    )
    assert imported_files(["rlpipe.main"], tmp_path) == [
        "rlpipe/__init__.py",
        "rlpipe/fallback.py",
        "rlpipe/late.py",
        "rlpipe/main.py",
    ]
