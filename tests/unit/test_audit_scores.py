"""The audit's independent score path: the raw seed files against the published cells, without
the report's row builder."""

from __future__ import annotations

import subprocess
import sys

from rlpipe.report.audit_scores import expected_cells, score_mismatches
from tests.fixtures import make_run


def test_it_does_not_import_the_reports_row_builder():
    code = (
        "import sys, rlpipe.report.audit_scores; "
        "sys.exit('rlpipe.report.benchmarks' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_seed_files_give_the_cells_and_a_tampered_cell_is_named(tmp_path):
    # seeds' final return_ma: 100 and 110; logged at 250, 500, 750, 1000 frames
    run_dir = make_run(tmp_path, "sac-pendulum", "sac", "pendulum", "Pendulum-v1")
    cells = expected_cells(run_dir, target=105.0)
    assert cells["Score (95% CI)"] == "105.0 [100.0, 110.0]"
    assert cells["Status"] == "pass"
    # return_ma = 100 x fraction of the run + 10 x seed: only seed 1 reaches 105, at 1000
    assert cells["Frames to target"] == "1,000 (1/2)"
    published = {"Score (95% CI)": "105.0 [100.0, 110.0]", "Status": "✅ pass",
                 "Frames to target": cells["Frames to target"]}  # fmt: skip
    assert score_mismatches(published, run_dir, 105.0) == []
    tampered = {**published, "Score (95% CI)": "125.0 [100.0, 110.0]", "Status": "❌ fail"}
    problems = score_mismatches(tampered, run_dir, 105.0)
    assert [problem.split(":")[0] for problem in problems] == ["Score (95% CI)", "Status"]
