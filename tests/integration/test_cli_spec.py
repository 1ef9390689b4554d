"""The CLI around specs: exit codes and messages as a user sees them, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rlpipe.cli import app
from tests.conftest import REPO

runner = CliRunner()


def invoke(*args: str, pipelines=None):
    extra = ["--pipelines", str(pipelines)] if pipelines else []
    return runner.invoke(app, [*args, *extra])


def test_ls_lists_every_family_spec_and_env(pipelines_dir):
    result = runner.invoke(app, ["ls", "--pipelines", str(pipelines_dir)], terminal_width=200)
    assert result.exit_code == 0
    assert "Hopper-v5" in result.output and "LunarLanderContinuous-v3" in result.output
    assert result.output.count("crossq") >= 16 and result.output.count(" sac ") >= 16


def test_spec_show_json_has_resolved_spec_and_hash(pipelines_dir):
    result = invoke("spec", "show", "crossq", "hopper", "-s", "max_frame=2e5", "--json",
                    pipelines=pipelines_dir)  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["spec"]["env"]["max_frame"] == 200000
    assert len(document["spec_hash"]) == 64


def test_spec_show_prints_where_each_schedule_ends(pipelines_dir):
    result = invoke("spec", "show", "a2c", "pendulum", "-s", "env.max_frame=3e5",
                    pipelines=pipelines_dir)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "schedules (300,000 frames trained):" in result.output
    assert "learning rate decays linearly to 0 at frame 1,000,000" in result.output
    assert "(after this run ends: 30% of it runs)" in result.output
    document = json.loads(invoke("spec", "show", "dqn", "cartpole", "--json",
                                 pipelines=pipelines_dir).stdout)  # fmt: skip
    assert document["horizons"] == {"epsilon decays linearly to epsilon_end": 250000.0}
    crossq = invoke("spec", "show", "crossq", "hopper", pipelines=pipelines_dir)
    assert "schedules: none depends on the number of frames" in crossq.output


def test_spec_check_passes_on_the_repo(pipelines_dir):
    result = invoke("spec", "check", pipelines=pipelines_dir)
    assert result.exit_code == 0, result.output
    assert "80 of 80 specs valid" in result.output


def test_spec_check_fails_with_non_zero_exit_on_any_invalid_spec(write_pipeline):
    folder = write_pipeline("t", "specs:\n  a:\n    env: {id: Pendulum-v1}\n")
    result = invoke("spec", "check", pipelines=folder)
    assert result.exit_code == 1
    assert "key algorithm: required field is missing" in result.output
    assert "0 of 1 specs valid" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["spec", "show", "crosq", "hopper"], "did you mean 'crossq'"),
        (["spec", "show", "crossq", "hopper", "-s", "max_frame"], "expected name=value"),
        (
            ["train", "crossq", "hopper", "-s", "algorithm.batch_sise=3"],
            "did you mean 'batch_size'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(pipelines_dir, args, message):
    result = invoke(*args, pipelines=pipelines_dir)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_console_script_prints_error_without_traceback(pipelines_dir):
    result = subprocess.run(
        [sys.executable, "-m", "rlpipe", "spec", "show", "crossq", "hoper",
         "--pipelines", str(pipelines_dir)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "error:" in result.stderr and "did you mean 'hopper'" in result.stderr
    assert "Traceback" not in result.stderr


def test_compile_of_an_algorithm_without_a_compiled_update_stops_before_the_run_folder(
    pipelines_dir, tmp_path
):
    out = tmp_path / "run"
    result = invoke(
        "train", "ppo", "cartpole", "--compile", "--out", str(out), pipelines=pipelines_dir
    )
    assert result.exit_code != 0
    assert "--compile: only crossq and sac have a compiled update, not ppo" in result.output
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize(
    ("family", "hint"),
    [
        ("pipelines/sac.yaml", "a family is named by its file's stem: sac (files are read"),
        ("/srv/specs/sac.yml", "a family is named by its file's stem: sac --pipelines /srv/specs"),
    ],
)
@pytest.mark.parametrize("command", [["spec", "show"], ["train"], ["bench"]])
def test_a_pipeline_files_path_as_family_is_named_back_as_its_family(family, hint, command):
    result = CliRunner().invoke(app, [*command, family, "pendulum"], terminal_width=300)
    assert result.exit_code == 2
    assert f"'{family}' is a path; {hint}" in " ".join(result.output.replace("│", "").split())


def test_suite_stages_check_names_the_suite_it_was_given(tmp_path, monkeypatch):
    suite = tmp_path / "my suite.yaml"
    suite.write_text((REPO / "params" / "suite.yaml").read_text())
    monkeypatch.chdir(REPO)  # its dvc.yaml is written from params/suite.yaml, not this copy
    result = CliRunner().invoke(app, ["suite", "stages", "--suite", str(suite), "--check"])
    assert result.exit_code == 1
    assert f"out of date: run rlpipe suite stages --suite '{suite}'" in (
        " ".join(result.output.split())
    )
