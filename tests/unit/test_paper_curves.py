"""The report's table against the paper's curves: rlpipe's CrossQ eval at 100k and 300k frames
beside the CrossQ reruns (references/crossq_reruns_v4.csv)."""

from __future__ import annotations

from rlpipe.report.paper_curves import curve_lines, curve_rows
from tests.conftest import FIXTURE_PIPELINES, REPO
from tests.fixtures import make_run


def test_crossq_runs_get_their_eval_at_100k_and_300k_beside_the_reruns(tmp_path):
    # Logged at 100k (no episode finished yet: no eval), 200k, 300k and 400k frames; the eval
    # at 300k is 75 + 10 * seed + 5: 80 and 90.
    make_run(tmp_path / "runs", "crossq-hopper", "crossq", "hopper", "Hopper-v5",
             frames=400_000, pipelines=FIXTURE_PIPELINES)  # fmt: skip
    rows = [
        {"env": "Hopper-v5", "family": "crossq", "run": "crossq-hopper", "peer": None},
        {"env": "Hopper-v5", "family": "ppo", "run": "ppo-hopper", "peer": None},
        {"env": "Hopper-v5", "family": "crossq", "run": "crossq-hopper-sb3", "peer": "sb3"},
        {"env": "Pendulum-v1", "family": "crossq", "run": "crossq-pendulum", "peer": None},
    ]
    entries = curve_rows(rows, tmp_path / "runs", REPO / "references/crossq_reruns_v4.csv")
    assert entries == [
        {
            "env": "Hopper-v5",
            "family": "crossq",
            "run": "crossq-hopper",
            "critic": 64,  # the fixture spec's first critic width
            "rlpipe": {100_000: None, 300_000: 85.0},
            "reruns": {100_000: 2764.0, 300_000: 2644.0},
        }
    ]
    assert curve_lines(entries)[-1] == (
        "| Hopper-v5 | CrossQ | runs/crossq-hopper | 64 | — | 2764 | 85.0 | 2644 |"
    )
    assert curve_lines([]) == []
