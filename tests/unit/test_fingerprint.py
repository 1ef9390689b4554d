"""Code fingerprints ignore what Python never runs and see every change to what it does."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.fingerprint import FORMAT, digest, write_fingerprint

BASE = """
from __future__ import annotations

import torch

class Config(BaseModel):
    lr: float = 3e-4

def update(batch, gamma=0.99):
    target = batch.reward + gamma * batch.next_q
    return torch.mean((batch.q - target) ** 2)

@app.command()
def train(frames: int = 100) -> None:
    run(frames)
"""

TYPED = '''
"""Module docstring added."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import torch

if TYPE_CHECKING:
    from rlpipe.buffers import Batch

Array = Any  # a comment

class Config(BaseModel):
    """The class's docstring."""

    lr: float = 3e-4

def update(batch: Batch, gamma: float = 0.99) -> torch.Tensor:
    """What it does."""
    target: torch.Tensor = batch.reward + gamma * cast("torch.Tensor", batch.next_q)
    return torch.mean((batch.q - target) ** 2)  # squared error

@app.command()
def train(frames: int = 100) -> None:
    run(frames)
'''


def test_docstrings_comments_annotations_and_typing_only_imports_leave_the_digest_alone():
    typed = TYPED.replace("Array = Any  # a comment\n", "")
    assert digest(typed) == digest(BASE)


@pytest.mark.parametrize(
    "before,after",
    [
        ("gamma=0.99", "gamma=0.98"),  # a default
        ("** 2", "** 3"),  # an expression
        ("lr: float = 3e-4", "lr: int = 3e-4"),  # a pydantic field's type is behaviour
        ("def train(frames: int = 100)", "def train(frames: str = 100)"),  # typer reads it
        ("target = batch", "goal = batch"),  # a rename
        ("import torch\n", "import torch\nimport numpy\n"),  # an import runs code
        ("return torch.mean(", "assert batch\n    return torch.mean("),
    ],
)
def test_a_change_to_what_the_code_does_changes_the_digest(before, after):
    assert before in BASE
    assert digest(BASE.replace(before, after)) != digest(BASE)


def test_a_type_alias_outside_type_checking_counts_as_code():
    assert digest(TYPED) != digest(BASE)


def test_only_typings_cast_is_unwrapped():
    own_cast = "def f(x):\n    return cast(int, x)\n"
    typing_cast = "from typing import cast\n" + own_cast
    assert digest(own_cast) != digest("def f(x):\n    return x\n")
    assert digest(typing_cast) == digest("def f(x):\n    return x\n")


def test_the_fingerprint_file_names_its_rule_and_every_file(tmp_path):
    (tmp_path / "a.py").write_text(BASE)
    (tmp_path / "b.py").write_text(TYPED)
    out = tmp_path / "prints" / "train.json"
    write_fingerprint(["b.py", "a.py"], out, root=tmp_path)
    document = json.loads(out.read_text())
    assert document == {"format": FORMAT, "files": {"a.py": digest(BASE), "b.py": digest(TYPED)}}


def test_the_command_refuses_missing_and_non_python_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text("def f(:\n")
    runner = CliRunner()
    missing = runner.invoke(app, ["suite", "fingerprint", "--out", "x.json", "nope.py"])
    assert missing.exit_code == 2
    assert "nope.py: no such source file" in missing.output
    broken = runner.invoke(app, ["suite", "fingerprint", "--out", "x.json", "bad.py"])
    assert broken.exit_code == 2
    assert "bad.py:1: not Python" in broken.output
    assert not (tmp_path / "x.json").exists()


def test_a_type_checking_block_keeps_its_else_branch_without_its_docs():
    nested = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import numpy\nelse:\n    'only at run time'\n"
        "    if TYPE_CHECKING:\n        import torch\n    else:\n        scale = 2\n"
    )
    assert digest(nested) == digest("scale = 2\n")
    assert digest(nested) != digest("scale = 3\n")
