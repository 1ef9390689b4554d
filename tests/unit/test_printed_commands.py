"""The commands `rlpipe train` prints for the user to paste: every path one shell word.

Nothing trains: the texts are built from made-up run folders and rendered as the terminal
shows them."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

from rich.console import Console

from rlpipe.commands.train import group_next_steps, next_steps, paused_steps


def rendered(markup: str) -> list[str]:
    """The lines a terminal shows for rich text printed the way rlpipe prints commands."""
    terminal = io.StringIO()
    Console(file=terminal, width=400, color_system=None).print(markup, soft_wrap=True)
    return terminal.getvalue().splitlines()


def command(lines: list[str], start: str) -> list[str]:
    """The shell words of the line that starts with `start`, its comment left out."""
    line = next(line.strip() for line in lines if line.strip().startswith(start))
    return shlex.split(line, comments=True)


def test_next_steps_quote_a_run_folder_with_spaces_so_the_commands_paste_back():
    run_dir = Path("/tmp/x/run with space")
    lines = rendered(next_steps(run_dir, Path("/tmp/my artifacts")))
    assert (
        "  rlpipe enjoy '/tmp/x/run with space' --artifacts '/tmp/my artifacts' --episodes 3 "
        "--video 'run with space.mp4'   # watch the policy" in lines
    )
    assert command(lines, "rlpipe enjoy") == [
        "rlpipe", "enjoy", str(run_dir), "--artifacts", "/tmp/my artifacts", "--episodes", "3",
        "--video", "run with space.mp4",
    ]  # fmt: skip
    assert command(lines, "rlpipe eval") == [
        "rlpipe", "eval", str(run_dir), "--artifacts", "/tmp/my artifacts"
    ]  # fmt: skip


def test_next_steps_leave_plain_paths_unquoted():
    lines = rendered(next_steps(Path("runs/crossq-hopper"), None))
    assert (
        "  rlpipe enjoy runs/crossq-hopper --episodes 3 --video crossq-hopper.mp4"
        "   # watch the policy" in lines
    )
    assert "  rlpipe eval runs/crossq-hopper   # evaluate its final weights again" in lines
    assert lines[0].startswith("run folder: runs/crossq-hopper (spec.json, ")


def test_next_steps_quote_shell_characters_and_keep_rich_markup_literal():
    run_dir = Path("runs/it's [bold]$HOME")
    words = command(rendered(next_steps(run_dir, None)), "rlpipe eval")
    assert words == ["rlpipe", "eval", "runs/it's [bold]$HOME"]


def test_a_seed_groups_next_commands_quote_the_run_folder_and_the_eval_output():
    run_dir = Path("/tmp/x/run with space")
    lines = rendered(group_next_steps(run_dir, (0, 1)))
    assert command(lines, "rlpipe eval") == [
        "rlpipe", "eval", str(run_dir), "--only-seeds", "0,1",
        "--output", "evals/run with space/seeds-0-1.json",
    ]  # fmt: skip
    assert command(lines, "rlpipe summarize") == ["rlpipe", "summarize", str(run_dir)]


def test_a_paused_run_names_its_folder_quoted_in_the_resume_from_hint():
    run_dir = Path("parts/my run/part-1")
    (line,) = rendered(paused_steps("crossq", "walker2d", run_dir, 300_000))
    assert line.startswith("paused at frame 300,000 with every seed checkpointed in ")
    hint = line.partition("continue with: ")[2]
    assert hint == "rlpipe train crossq walker2d ... --resume-from 'parts/my run/part-1' --out DIR"
