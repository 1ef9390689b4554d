"""The report's Parity section: a parity run against rlpipe's run of the same spec."""

from __future__ import annotations

from rlpipe.report.benchmarks import build_rows, render_markdown
from rlpipe.report.parity import parity_lines
from rlpipe.spec import load_suite
from tests.fixtures import make_run

SUITE = """hub_repo: rlpipe/fixture
seeds: 2
device: cpu
envs:
  pendulum: {id: Pendulum-v1, category: classic, target: -200, budget: 300000}
runs:
  crossq-pendulum: {family: crossq, spec: pendulum, frames: 1000}
  crossq-pendulum-sb3: {family: crossq, spec: pendulum, frames: 1000, peer: sb3}
"""


def rows(tmp_path, with_peer_run=True):
    (tmp_path / "suite.yaml").write_text(SUITE)
    runs = tmp_path / "runs"
    # seeds' scores: rlpipe -210, -200; the peer -230, -220
    make_run(runs, "crossq-pendulum", "crossq", "pendulum", "Pendulum-v1", score_offset=-310.0)
    if with_peer_run:
        make_run(runs, "crossq-pendulum-sb3", "crossq", "pendulum", "Pendulum-v1",
                 score_offset=-330.0)  # fmt: skip
    suite = load_suite(tmp_path / "suite.yaml")
    return suite, build_rows(suite, runs, tmp_path / "plots", reports_dir=tmp_path)


def test_a_parity_row_gets_the_difference_its_ci_and_the_probability_of_improvement(tmp_path):
    suite, table = rows(tmp_path)
    peer = next(row for row in table if row["run"] == "crossq-pendulum-sb3")
    assert peer["parity"]["rlpipe_run"] == "crossq-pendulum"
    # every resampled difference lies in [10, 30], and 10 and 30 each have chance 1/16
    assert peer["parity"]["mean_difference"] == [20.0, 10.0, 30.0]
    assert peer["parity"]["improvement_probability"] == [1.0, 1.0, 1.0]
    own = next(row for row in table if row["run"] == "crossq-pendulum")
    assert own["parity"] is None
    assert parity_lines(table)[-1] == (
        "| Pendulum-v1 | CrossQ | runs/crossq-pendulum | runs/crossq-pendulum-sb3 (sb3) "
        "| +20.0 [+10.0, +30.0] | +20.0 [+10.0, +30.0] | 1.00 [1.00, 1.00] "
        "| crossq-pendulum is higher than crossq-pendulum-sb3 (the 95% CI of the difference "
        "excludes 0) |"
    )
    assert "## Parity" in render_markdown(table, suite, "suite.yaml")


def test_no_parity_section_until_both_runs_have_finished(tmp_path):
    suite, table = rows(tmp_path, with_peer_run=False)
    assert all(row["parity"] is None for row in table)
    assert parity_lines(table) == []
    assert "## Parity" not in render_markdown(table, suite, "suite.yaml")
