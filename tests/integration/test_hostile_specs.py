"""Hostile spec files and -s values through the CLI: clear errors, no hangs, nothing raw on the
terminal."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from tests.unit.test_yaml_limits import VALID, alias_bomb

MEMORY_LIMIT = 3 << 30
"""Address space a CLI process gets here: plenty for torch, far below an expanded bomb."""

runner = CliRunner()


def limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def rlpipe(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI in a fresh process with bounded memory; return its result and wall time."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rlpipe", *args],
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited_memory,
        check=False,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "args,exit_code",
    [
        (["spec", "check"], 1),
        (["ls"], 0),
        (["spec", "show", "bomb", "boom"], 2),
        (["train", "bomb", "boom", "--out", "scratch/boom"], 2),
    ],
)
def test_alias_bomb_ends_at_once_with_an_error_naming_the_file(tmp_path, args, exit_code):
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "bomb.yaml").write_text(alias_bomb())
    (folder / "ok.yaml").write_text(VALID)

    result, seconds = rlpipe(tmp_path, *args)

    assert result.returncode == exit_code, result.stderr
    assert seconds < 30  # today's main was still expanding after 60 s, past 1 GB
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "pipelines/bomb.yaml:5:" in message
    assert "YAML aliases (*a) are not allowed in rlpipe files" in message
    if args == ["ls"]:
        assert "│ ok     │ pendulum │ Pendulum-v1" in result.stdout  # the other file still listed
    if args == ["spec", "check"]:
        assert "1 of 2 specs valid, 1 invalid" in result.stdout  # the other file still checked
    assert not (tmp_path / "scratch").exists()


def test_env_id_with_rich_markup_is_printed_literally_by_ls(write_pipeline):
    folder = write_pipeline("odd", VALID.replace("id: Pendulum-v1", 'id: "[/oops]"'))
    result = runner.invoke(app, ["ls", "--pipelines", str(folder)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "│ [/oops]" in result.output


def test_env_id_with_rich_markup_is_printed_literally_by_train(write_pipeline, tmp_path):
    folder = write_pipeline("odd", VALID)
    result = runner.invoke(
        app,
        ["train", "odd", "pendulum", "-s", 'env.id="[/oops]"', "--seeds", "1", "--quiet",
         "--out", str(tmp_path / "run"), "--pipelines", str(folder)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "odd/pendulum [/oops], spec hash" in result.output
    assert "unknown gymnasium env '[/oops]'" in result.output


def test_yaml_escape_in_a_value_is_refused_without_reaching_the_terminal(pipelines_dir):
    result = runner.invoke(
        app,
        ["spec", "show", "sac", "pendulum", "-s", 'env.id="\\e[2J\\e[31mx"', "--pipelines",
         str(pipelines_dir)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "\x1b" not in result.output
    assert "-s env.id: cannot read value" in result.output
    assert "the value holds the control character U+001B" in result.output


def test_control_characters_in_an_error_message_are_shown_escaped(pipelines_dir):
    result = runner.invoke(
        app,
        ["spec", "show", "sac", "pendulum", "-s", "max\x1b[2J_frame=3", "--pipelines",
         str(pipelines_dir)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "\x1b" not in result.output
    assert "-s max\\x1b[2J_frame: not a declared var" in result.output


def test_a_pipelines_folder_named_like_markup_is_printed_literally(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = Path("[", "x]")  # the folder's path reads as the closing tag [/x]
    folder.mkdir(parents=True)
    (folder / "odd.yaml").write_text(VALID)
    listed = runner.invoke(app, ["ls", "--pipelines", "[/x]"], terminal_width=200)
    assert listed.exit_code == 0 and "specs in [/x]/" in listed.output
    shown = runner.invoke(app, ["spec", "show", "odd", "pendulum", "--pipelines", "[/x]"])
    assert shown.exit_code == 0 and "odd/pendulum from [/x]/odd.yaml" in shown.output
