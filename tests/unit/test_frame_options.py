"""Frame-count options take numbers as specs write them (2e5), and nothing that is not a
whole, non-negative number of frames."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.commands.common import frame_count, positive_frames
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("text", "frames"),
    [("300", 300), ("3e2", 300), ("2.5e5", 250_000), ("1_000", 1000), (" 2E3 ", 2000), ("0", 0)],
)
def test_a_frame_count_is_read_as_specs_write_numbers(text, frames):
    assert frame_count(text) == frames


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2.5", "'2.5' is not a whole number of frames"),
        ("1e3.5", "'1e3.5' is not a number of frames"),
        ("ten", "'ten' is not a number of frames"),
        ("-3", "'-3': a number of frames is not negative"),
        ("1e300", "'1e300' is not a whole number of frames"),
    ],
)
def test_what_is_not_a_frame_count_is_refused_saying_why(text, message):
    with pytest.raises(typer.BadParameter, match=message):
        frame_count(text)


def test_positive_frames_refuses_zero():
    with pytest.raises(typer.BadParameter, match="'0': must be at least 1"):
        positive_frames("0")


def test_train_reads_until_frame_written_as_in_a_spec(tmp_path):
    args = ["train", "sac", "pendulum", "-s", "max_frame=200", "--until-frame", "3e2",
            "--out", str(tmp_path / "run"), "--pipelines", str(REPO / "pipelines")]  # fmt: skip
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 2
    assert "--until-frame 300: must be between 0 and the run's max_frame (200)" in result.output
    assert not (tmp_path / "run").exists()
