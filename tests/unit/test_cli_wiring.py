"""rlpipe/cli.py stays wiring: every command lives in rlpipe/commands/ and is registered, in the
order `rlpipe --help` lists them; closed sets of option values are Enums; one writer of the
`rlpipe train` command line."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from enum import Enum
from pathlib import Path
from typing import Any, get_args

import typer
from typer.testing import CliRunner

import rlpipe.commands
from rlpipe import cli
from rlpipe.cli import app
from rlpipe.commands.bench import Library
from rlpipe.commands.evaluate import CompareMetric
from rlpipe.commands.search import Objective, Pruner
from rlpipe.commands.train import Peer
from rlpipe.peers import PEERS
from rlpipe.search.study import PrunerName
from rlpipe.search.trial import Objective as ObjectiveName
from rlpipe.search.trial import TrialCommand
from rlpipe.train_command import train_argv

CLI_LINE_BUDGET = 120
"""rlpipe/cli.py holds the typer apps, --version, the registrations and run(): about 80 lines."""

NOT_COMMANDS = {"common", "wait_policy"}
"""Modules of rlpipe/commands/ that hold no command: shared helpers."""

HELP_ORDER = ["ls", "train", "summarize", "eval", "compare", "enjoy", "plot", "report", "audit",
              "publish", "pull", "bench", "search"]  # fmt: skip


def name(info: Any) -> str:
    """A command's name: the one it was registered with, else typer's from its function."""
    return info.name or info.callback.__name__.replace("_", "-")


def registered() -> dict[str, Any]:
    """Every registered command, "group sub" for a group's, with its callback."""
    commands = {name(info): info.callback for info in app.registered_commands}
    for group in app.registered_groups:
        for info in group.typer_instance.registered_commands:
            commands[f"{group.name} {name(info)}"] = info.callback
    return commands


def command_modules() -> list[Any]:
    names = [m.name for m in pkgutil.iter_modules(rlpipe.commands.__path__)]
    return [importlib.import_module(f"rlpipe.commands.{n}") for n in names if n not in NOT_COMMANDS]


def test_every_command_of_every_command_module_is_registered():
    callbacks = set(registered().values())
    for module in command_modules():
        commands = [
            function
            for _, function in inspect.getmembers(module, inspect.isfunction)
            if function.__module__ == module.__name__ and hasattr(function, "__wrapped__")
        ]
        assert commands, f"{module.__name__} defines no command"
        for function in commands:
            assert function in callbacks, f"{module.__name__}.{function.__name__} not registered"


def test_cli_defines_no_command():
    in_cli = {
        name for name, callback in registered().items() if callback.__module__ == cli.__name__
    }
    assert in_cli == set()


def test_commands_keep_their_help_order():
    assert [name(info) for info in app.registered_commands] == HELP_ORDER
    assert [group.name for group in app.registered_groups] == ["spec", "suite"]
    assert [name for name in registered() if " " in name] == [
        "spec show", "spec check", "suite stages", "suite fingerprint", "suite run",
        "suite plan"
    ]  # fmt: skip


def test_each_command_summary_is_one_line_so_help_lists_it_unbroken():
    # `rlpipe --help` lists a command by the first paragraph of its help and keeps its line
    # breaks: a summary wrapped in the source showed as a sentence cut in the middle.
    for command, callback in registered().items():
        summary = (inspect.getdoc(callback) or "").split("\n\n")[0]
        assert summary, f"rlpipe {command} has no help"
        assert "\n" not in summary, f"rlpipe {command}: summary over several lines: {summary!r}"


def test_cli_stays_within_its_line_budget():
    lines = len(Path(cli.__file__).read_text(encoding="utf-8").splitlines())
    assert lines <= CLI_LINE_BUDGET, f"rlpipe/cli.py has {lines} lines: move code to commands/"


def test_choice_enums_accept_what_the_library_accepts():
    def values(enum: type[Enum]) -> set[str]:
        return {member.value for member in enum}

    assert values(Peer) == set(PEERS)
    assert values(Objective) == set(get_args(ObjectiveName)) == values(CompareMetric)
    assert values(Pruner) == set(get_args(PrunerName))
    assert values(Library) == {"sb3"}


def test_a_value_outside_a_choice_is_a_usage_error():
    args = ["search", "crossq", "pendulum", "--space", "s.yaml", "--trials", "1", "--pruner", "x"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    message = " ".join(result.output.replace("│", " ").split())  # without the error box
    assert (
        "Invalid value for '--pruner': Value error, 'x' is not one of 'median', 'hyperband', "
        "'none'" in message
    )


def test_resume_and_overwrite_exclude_each_other(pipelines_dir, tmp_path):
    args = ["train", "crossq", "pendulum", "--resume", "--overwrite", "--device", "cpu",
            "--no-compile", "--out", str(tmp_path / "run"), "--pipelines", str(pipelines_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error: --resume and --overwrite exclude each other" in result.output
    assert not (tmp_path / "run").exists()


def test_trials_and_stages_write_the_train_command_line_in_one_order():
    trial = TrialCommand("sac", "pendulum", ("a=1", "b=2"), 2, 1, "cpu", Path("p"), Path("r"))
    assert trial.argv() == [
        "rlpipe", "train", "sac", "pendulum", "-s", "a=1", "-s", "b=2", "--seeds", "2",
        "--workers", "1", "--device", "cpu", "--out", "r", "--pipelines", "p", "--quiet",
    ]  # fmt: skip
    stage = train_argv("sac", "pendulum", ["a=1"], device="cpu", peer="sb3",
                       peer_versions=["sb3-contrib==2.9.2"], resume_from="parts/x/part-1",
                       out="runs/x", artifacts="artifacts/x", overwrite=True, quiet=True,
                       until_frame=400, only_seeds=(2, 3))  # fmt: skip
    assert stage == [
        "rlpipe", "train", "sac", "pendulum", "-s", "a=1", "--device", "cpu", "--peer", "sb3",
        "--peer-version", "sb3-contrib==2.9.2", "--resume-from", "parts/x/part-1",
        "--out", "runs/x", "--artifacts", "artifacts/x", "--overwrite", "--quiet",
        "--until-frame", "400", "--only-seeds", "2,3",
    ]  # fmt: skip


def test_the_train_command_line_writes_only_options_rlpipe_train_has():
    every = train_argv("f", "s", ["a=1"], seeds=1, workers=1, device="cpu", peer="sb3",
                       peer_versions=["x==1"], resume_from="a", out="b", artifacts="c",
                       pipelines="d", overwrite=True, quiet=True, until_frame=1,
                       only_seeds=(0,))  # fmt: skip
    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    written = {word for word in every if word.startswith("-")}
    assert written <= options, written - options


def test_suite_stages_refuses_a_pipelines_folder_its_stages_would_not_train_from(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["suite", "stages", "--pipelines", "elsewhere"], terminal_width=200
    )
    assert result.exit_code == 2
    assert "--pipelines elsewhere (or RLPIPE_PIPELINES): the stages run `rlpipe train` on " in (
        " ".join(result.output.split())
    )
    assert not (tmp_path / "dvc.yaml").exists()


def test_a_wandb_project_without_wandb_is_refused_not_ignored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["train", "crossq", "pendulum", "--wandb-project", "mine"], terminal_width=200
    )
    assert result.exit_code == 2
    assert "--wandb-project names the W&B project of --wandb: give --wandb DIR too" in (
        result.output
    )
    assert not (tmp_path / "runs").exists()
