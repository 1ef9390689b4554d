"""DVC re-runs a stage that depends on a code fingerprint only when what the code does changes."""

from __future__ import annotations

import yaml

from tests.suite_project import run

CODE = "def step(x):\n    return x + 1\n"
DVC = {
    "stages": {
        "code": {
            "cmd": "rlpipe suite fingerprint --out prints/code.json step.py",
            "deps": ["step.py"],
            "outs": [{"prints/code.json": {"cache": False}}],
        },
        "train": {
            # Counts its runs in a file DVC does not track.
            "cmd": "echo ran >> runs.log && echo done > trained.txt",
            "deps": ["prints/code.json"],
            "outs": [{"trained.txt": {"cache": False}}],
        },
    }
}


def test_a_typed_and_documented_edit_trains_nothing_and_a_real_edit_retrains(tmp_path):
    run(tmp_path, "git", "init", "-q")
    run(tmp_path, "dvc", "init", "-q")
    (tmp_path / "step.py").write_text(CODE)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(DVC))
    run(tmp_path, "dvc", "repro", "-q")
    assert (tmp_path / "runs.log").read_text() == "ran\n"

    typed = '"""One step."""\n\ndef step(x: int) -> int:\n    # the next one\n    return x + 1\n'
    (tmp_path / "step.py").write_text(typed)
    assert "modified:" in run(tmp_path, "dvc", "status").stdout  # the code stage is stale
    run(tmp_path, "dvc", "repro", "-q")
    assert (tmp_path / "runs.log").read_text() == "ran\n"
    assert "up to date" in run(tmp_path, "dvc", "status").stdout

    (tmp_path / "step.py").write_text(typed.replace("x + 1", "x + 2"))
    run(tmp_path, "dvc", "repro", "-q")
    assert (tmp_path / "runs.log").read_text() == "ran\nran\n"
