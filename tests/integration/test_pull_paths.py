"""`rlpipe pull` and `rlpipe publish --folder` with the paths users type: spaces, a quoted ~,
a Hub repo id that is also a folder here, and a refused pull's folders.

The published run is made from made-up numbers (tests/fixtures.py) with stand-in weights and
published into a local folder: nothing trains and nothing reaches a Hub.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import rlpipe.hub.pull
from rlpipe.cli import app
from rlpipe.errors import RlpipeError
from rlpipe.hub.publish import publish_runs
from rlpipe.hub.pull import pull_run
from rlpipe.rundir import RunFolder
from tests.conftest import REPO
from tests.fixtures import make_run, make_suite_file

KEY = "ppo-cartpole"
SHARED = "shared drive"


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """The working folder: a suite with one finished run (stand-in weights) and the pipelines."""
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    make_suite_file(tmp_path / "params" / "suite.yaml",
                    {"cartpole": ("CartPole-v1", "classic", 400, 200_000)},
                    [("ppo", "cartpole", 1000)])  # fmt: skip
    run = make_run(tmp_path / "runs", KEY, "ppo", "cartpole", "CartPole-v1",
                   pipelines=tmp_path / "pipelines")  # fmt: skip
    for seed in (0, 1):
        RunFolder(run).seed(seed).save_weights({"policy": {"weight": torch.zeros(2)}})
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def shared(project) -> Path:
    """`rlpipe publish --folder` of the run into ./shared drive."""
    publish_runs([KEY], "unused/repo", project / "runs", project / "artifacts",
                 project / "reports", replay=False, folder=project / SHARED,
                 pipelines=project / "pipelines")  # fmt: skip
    return project / SHARED


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=100)
    return result.exit_code, result.output


def line_of(output: str, start: str) -> list[str]:
    """The shell words of the printed line that starts with `start` (its comment left out)."""
    line = next(line.strip() for line in output.splitlines() if line.strip().startswith(start))
    return shlex.split(line, comments=True)


def refuse_the_card(shared: Path) -> None:
    """Replace the published card with one a pull refuses after making its folders."""
    (shared / "runs" / KEY / "README.md").write_text("not a model card\n")


# --------------------------------------------------------------------------- printed commands


def test_pull_prints_next_commands_with_the_run_folder_quoted_for_the_shell(shared):
    code, output = cli("pull", f"./{SHARED}", KEY, "--out", "pulled runs/my run")
    assert code == 0, output
    assert line_of(output, "next: rlpipe eval") == [
        "next:", "rlpipe", "eval", "pulled runs/my run"
    ]  # fmt: skip
    assert "rlpipe eval 'pulled runs/my run'   # the card says eval return" in output
    words = line_of(output, "rlpipe enjoy")
    assert words == ["rlpipe", "enjoy", "pulled runs/my run", "--video", f"{KEY}.mp4"]


def test_pull_prints_a_plain_run_folder_unquoted(shared):
    code, output = cli("pull", f"./{SHARED}", KEY, "--out", f"pulled/{KEY}")
    assert code == 0, output
    assert f"next: rlpipe eval pulled/{KEY}   # the card says" in output
    assert f"rlpipe enjoy pulled/{KEY} --video {KEY}.mp4" in output


def test_publish_into_a_folder_prints_the_pull_command_with_the_folder_quoted(project):
    code, output = cli("publish", KEY, "--folder", SHARED, "--no-replay")
    assert code == 0, output
    assert "pull one back with: rlpipe pull './shared drive' <run>" in output
    assert (project / SHARED / "runs" / KEY / "README.md").is_file()


def test_publish_of_a_misspelled_run_names_the_run_it_likely_meant(project):
    code, output = cli("publish", "ppo-cartpoel", "--folder", SHARED, "--no-replay")
    assert code == 2
    assert "no run folder runs/ppo-cartpoel (did you mean 'ppo-cartpole'?)" in output
    assert "nothing was uploaded" in output and not (project / SHARED).exists()


# --------------------------------------------------------------------------- a quoted ~


def test_a_quoted_tilde_in_out_is_the_home_folder_not_a_folder_named_tilde(
    shared, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    code, output = cli("pull", f"./{SHARED}", KEY, "--out", "~/pulled")
    assert code == 0, output
    assert RunFolder(home / "pulled").finished()
    assert not (tmp_path / "~").exists()
    assert line_of(output, "next: rlpipe eval") == ["next:", "rlpipe", "eval", f"{home}/pulled"]


def test_a_tilde_is_expanded_in_a_folder_source_and_in_out_alike(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    pulled = pull_run(f"~/{SHARED}", KEY, Path("~/runs-pulled/run"))
    assert pulled.path == tmp_path / "runs-pulled" / "run"
    assert RunFolder(pulled.path).finished()


# --------------------------------------------------------------------------- a repo id or a folder


def test_a_repo_id_that_names_a_folder_here_is_refused_as_ambiguous(shared, monkeypatch):
    (shared.parent / "shared" / "rlpipe").mkdir(parents=True)
    asked = []
    monkeypatch.setattr(rlpipe.hub.pull, "list_run_files", lambda *args: asked.append(args))
    with pytest.raises(RlpipeError, match="shared/rlpipe is ambiguous") as raised:
        pull_run("shared/rlpipe", KEY)
    assert "rlpipe pull ./shared/rlpipe" in str(raised.value)
    assert asked == []  # the Hub was not asked
    code, output = cli("pull", "shared/rlpipe", KEY)
    assert code == 2 and "write it as a path: rlpipe pull ./shared/rlpipe" in output


def test_a_repo_id_that_names_no_folder_here_still_goes_to_the_hub(project, monkeypatch):
    asked = []

    def list_run_files(*args):
        asked.append(args[:2])
        return []

    monkeypatch.setattr(rlpipe.hub.pull, "list_run_files", list_run_files)
    with pytest.raises(RlpipeError, match=f"shared/rlpipe has no run {KEY}"):
        pull_run("shared/rlpipe", KEY, Path("pulled"))
    assert asked == [("shared/rlpipe", KEY)]


# --------------------------------------------------------------------------- a refused pull


def test_a_refused_pull_removes_the_folders_it_made_for_out(shared, tmp_path):
    refuse_the_card(shared)
    (tmp_path / "existing").mkdir()
    for out in (Path("new/deeper/run"), tmp_path / "existing" / "new" / "run"):
        with pytest.raises(RlpipeError, match="was refused, nothing was written"):
            pull_run(f"./{SHARED}", KEY, out)
    assert not (tmp_path / "new").exists()
    assert list((tmp_path / "existing").iterdir()) == []  # kept: the pull did not make it


def test_a_refused_pull_into_a_quoted_tilde_leaves_no_folder(shared, tmp_path, monkeypatch):
    refuse_the_card(shared)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    code, output = cli("pull", f"./{SHARED}", KEY, "--out", "~/a/b/run")
    assert code == 2 and "was refused, nothing was written" in output
    assert list(home.iterdir()) == []
    assert not (tmp_path / "~").exists()
