"""The run folder: atomic writes, metrics.csv, summary.json, provenance and paths."""

import datetime
import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from rlpipe.errors import RlpipeError
from rlpipe.rundir import (
    WALL_CLOCK_COLUMNS,
    MetricsLog,
    RunFolder,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_rows,
    truncate_after,
)
from rlpipe.rundir import provenance as provenance_module
from rlpipe.rundir.provenance import cpu_bf16, finish_provenance, provenance

COLUMNS = ["frame", "wall_s", "fps", "return_mean", "return_ma", "eval_return", "loss"]


def _raise_no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_text_replaces_content_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "spec.json"
    atomic_write_text(path, "old\n")
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["spec.json"]


def test_atomic_write_creates_missing_parent_folders(tmp_path):
    path = tmp_path / "runs" / "crossq-hopper" / "seed-0" / "x.bin"
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_atomic_write_keeps_old_file_and_removes_temp(tmp_path, monkeypatch, failing):
    path = tmp_path / "summary.json"
    path.write_text("previous\n")
    monkeypatch.setattr(os, failing, _raise_no_space)
    with pytest.raises(RlpipeError) as caught:
        atomic_write_text(path, "replacement\n")
    monkeypatch.undo()
    assert str(path) in str(caught.value)
    assert "No space" in str(caught.value)
    assert path.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_atomic_write_json_is_canonical_with_nan_as_null(tmp_path):
    path = tmp_path / "summary.json"
    atomic_write_json(path, {"b": float("nan"), "a": [1, np.float32(0.5), float("inf")]})
    text = path.read_text()
    assert text == '{\n  "a": [\n    1,\n    0.5,\n    null\n  ],\n  "b": null\n}\n'
    assert json.loads(text) == {"a": [1, 0.5, None], "b": None}


def test_atomic_torch_save_round_trips_state_dict(tmp_path):
    path = tmp_path / "seed-0" / "model.pt"
    state = {"weight": torch.arange(6.0).reshape(2, 3)}
    atomic_torch_save(state, path)
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["weight"], state["weight"])


def test_failed_torch_save_keeps_old_model_and_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    path.write_bytes(b"old weights")
    monkeypatch.setattr(os, "replace", _raise_no_space)
    with pytest.raises(RlpipeError, match="No space"):
        atomic_torch_save({"w": torch.zeros(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == b"old weights"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_unpicklable_torch_save_raises_original_error_and_removes_temp(tmp_path):
    path = tmp_path / "model.pt"
    with pytest.raises(Exception) as caught:
        atomic_torch_save({"fn": lambda: None}, path)
    assert not isinstance(caught.value, RlpipeError)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- metrics.csv


def test_metrics_log_writes_header_and_appends_rows(tmp_path):
    path = tmp_path / "metrics.csv"
    with MetricsLog(path, ["frame", "return_ma", "loss"]) as log:
        log.append({"frame": 1000, "return_ma": 12.5, "loss": 0.25})
        log.append({"frame": 2000, "return_ma": 13.0})
    assert path.read_text() == "frame,return_ma,loss\n1000,12.5,0.25\n2000,13,\n"
    assert read_rows(path) == [
        {"frame": 1000.0, "return_ma": 12.5, "loss": 0.25},
        {"frame": 2000.0, "return_ma": 13.0, "loss": None},
    ]


def test_metrics_log_rejects_unknown_columns(tmp_path):
    with (
        MetricsLog(tmp_path / "metrics.csv", ["frame"]) as log,
        pytest.raises(ValueError) as caught,
    ):
        log.append({"frame": 1, "retrun_ma": 2.0})
    assert "retrun_ma" in str(caught.value)
    assert read_rows(tmp_path / "metrics.csv") == []


def test_metrics_log_rejects_columns_that_would_break_csv(tmp_path):
    with pytest.raises(ValueError):
        MetricsLog(tmp_path / "metrics.csv", ["frame", "loss,critic"])


def test_metrics_floats_use_stable_ten_digit_format(tmp_path):
    path = tmp_path / "metrics.csv"
    with MetricsLog(path, ["frame", "a", "b", "c"]) as log:
        log.append({"frame": 10**12, "a": 0.1 + 0.2, "b": np.float32(0.5), "c": 1 / 3})
    assert path.read_text().splitlines()[1] == "1000000000000,0.3,0.5,0.3333333333"


def test_identical_rows_give_byte_identical_files(tmp_path):
    rows = [
        {"frame": 1000 * i, "return_ma": 1 / (i + 1), "loss": float(np.float64(i) * 0.1)}
        for i in range(5)
    ]
    for name in ("a.csv", "b.csv"):
        with MetricsLog(tmp_path / name, ["frame", "return_ma", "loss"]) as log:
            for row in rows:
                log.append(row)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_reopening_metrics_log_appends_without_second_header(tmp_path):
    path = tmp_path / "metrics.csv"
    with MetricsLog(path, ["frame", "loss"]) as log:
        log.append({"frame": 1, "loss": 1.0})
    with MetricsLog(path, ["frame", "loss"]) as log:
        log.append({"frame": 2, "loss": 2.0})
    assert path.read_text() == "frame,loss\n1,1\n2,2\n"


def test_reopening_metrics_log_with_other_columns_is_an_error(tmp_path):
    path = tmp_path / "metrics.csv"
    MetricsLog(path, ["frame", "loss"]).close()
    with pytest.raises(RlpipeError, match="same spec"):
        MetricsLog(path, ["frame", "alpha"])


def test_torn_tail_is_dropped_on_reopen(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("frame,loss\n1000,0.5\n2000,0.")
    with MetricsLog(path, ["frame", "loss"]) as log:
        assert path.read_text() == "frame,loss\n1000,0.5\n"
        log.append({"frame": 2000, "loss": 0.25})
    assert path.read_text() == "frame,loss\n1000,0.5\n2000,0.25\n"


def test_torn_header_is_replaced_by_a_full_header(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("fra")
    MetricsLog(path, ["frame", "loss"]).close()
    assert path.read_text() == "frame,loss\n"


def test_readers_never_see_a_torn_tail(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("frame,loss\n1000,0.5\n2000,0.")
    assert read_rows(path) == [{"frame": 1000.0, "loss": 0.5}]


def test_failed_append_leaves_file_without_partial_line(tmp_path, monkeypatch):
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path, ["frame", "loss"])
    log.append({"frame": 1, "loss": 1.0})
    real_write = os.write

    def short_write(fd, data):
        return real_write(fd, data[:3])

    monkeypatch.setattr(os, "write", short_write)
    with pytest.raises(RlpipeError, match=r"metrics\.csv"):
        log.append({"frame": 2, "loss": 2.0})
    monkeypatch.undo()
    log.close()
    assert path.read_text() == "frame,loss\n1,1\n"


def test_append_after_close_is_an_error(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv", ["frame"])
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.append({"frame": 1})


def test_truncate_after_keeps_exactly_rows_up_to_frame(tmp_path):
    path = tmp_path / "metrics.csv"
    with MetricsLog(path, ["frame", "loss"]) as log:
        for frame in (1000, 2000, 3000, 4000):
            log.append({"frame": frame, "loss": frame / 1000})
    with path.open("a") as stream:
        stream.write("5000,")  # torn tail left by a kill
    assert truncate_after(path, 2999) == 2
    assert path.read_text() == "frame,loss\n1000,1\n2000,2\n"
    assert truncate_after(path, 2000) == 2
    assert path.read_text() == "frame,loss\n1000,1\n2000,2\n"
    assert truncate_after(path, 0) == 0
    assert path.read_text() == "frame,loss\n"


def test_resume_after_kill_loses_and_duplicates_no_row(tmp_path):
    path = tmp_path / "metrics.csv"
    with MetricsLog(path, ["frame", "loss"]) as log:
        for frame in (1000, 2000, 3000):
            log.append({"frame": frame, "loss": 0.0})
    # checkpoint was at frame 2000; rows after it are re-logged by the resumed run
    truncate_after(path, 2000)
    with MetricsLog(path, ["frame", "loss"]) as log:
        log.append({"frame": 3000, "loss": 0.0})
    assert [row["frame"] for row in read_rows(path)] == [1000.0, 2000.0, 3000.0]


def test_truncate_after_needs_a_frame_column(tmp_path):
    path = tmp_path / "metrics.csv"
    MetricsLog(path, ["step"]).close()
    with pytest.raises(RlpipeError, match="frame"):
        truncate_after(path, 10)


def test_reading_missing_metrics_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(RlpipeError, match=r"metrics\.csv"):
        read_rows(tmp_path / "metrics.csv")


def test_wall_clock_columns_are_wall_time_and_fps():
    assert WALL_CLOCK_COLUMNS == ("wall_s", "fps")
    assert set(WALL_CLOCK_COLUMNS) <= set(COLUMNS)


# --------------------------------------------------------------------------- summary.json


def write_summary(run_dir, results):
    """Summarise through the run folder; the summary as written on disk."""
    RunFolder(run_dir).write_summary(results)
    return json.loads((run_dir / "summary.json").read_text())


def _seed_result(seed, return_ma, eval_return=1.0, frames=10_000, wall_s=10.0, fps=1000.0):
    return {
        "seed": seed,
        "return_ma": return_ma,
        "eval_return": eval_return,
        "frames": frames,
        "wall_s": wall_s,
        "fps": fps,
    }


def test_summary_score_is_mean_of_per_seed_return_ma(tmp_path):
    results = [
        _seed_result(1, 300.0, eval_return=310.0, wall_s=12.0, fps=900.0),
        _seed_result(0, 100.0, eval_return=110.0, wall_s=10.0, fps=1000.0),
        _seed_result(2, 200.0, eval_return=210.0, wall_s=11.0, fps=1100.0),
    ]
    summary = write_summary(tmp_path, results)
    assert summary["score"] == pytest.approx(200.0)
    assert summary["score_iqm"] == pytest.approx(200.0)
    assert summary["eval_return"] == pytest.approx(210.0)
    assert summary["frames"] == 10_000
    assert summary["fps"] == pytest.approx(1000.0)
    assert summary["wall_s"] == 12.0
    assert summary["seeds"] == [0, 1, 2]
    assert [s["seed"] for s in summary["per_seed"]] == [0, 1, 2]
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_summary_ci_contains_the_score(tmp_path):
    results = [_seed_result(seed, r) for seed, r in enumerate([120.0, 80.0, 150.0, 95.0, 130.0])]
    summary = write_summary(tmp_path, results)
    lo, hi = summary["score_ci95"]
    assert lo <= summary["score"] <= hi
    assert lo < hi


def test_summary_of_one_seed_has_a_zero_width_ci(tmp_path):
    summary = write_summary(tmp_path, [_seed_result(0, 42.0)])
    assert summary["score"] == 42.0
    assert summary["score_ci95"] == [42.0, 42.0]


def test_summary_eval_return_is_none_when_a_seed_lacks_it(tmp_path):
    results = [_seed_result(0, 1.0, eval_return=None), _seed_result(1, 2.0, eval_return=5.0)]
    assert write_summary(tmp_path, results)["eval_return"] is None


def test_summary_score_is_null_when_a_seed_has_no_return(tmp_path):
    results = [_seed_result(0, float("nan")), _seed_result(1, 2.0)]
    summary = write_summary(tmp_path, results)
    assert summary["score"] is None
    assert summary["score_iqm"] is None
    assert summary["score_ci95"] is None
    assert summary["per_seed"][0]["return_ma"] is None
    assert json.loads((tmp_path / "summary.json").read_text())["score"] is None


def test_summary_with_unequal_frames_is_an_error(tmp_path):
    results = [_seed_result(0, 1.0, frames=10_000), _seed_result(1, 1.0, frames=8_000)]
    with pytest.raises(RlpipeError, match="8000"):
        write_summary(tmp_path, results)
    assert not (tmp_path / "summary.json").exists()


def test_summary_rejects_duplicate_seeds_and_no_seeds(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        write_summary(tmp_path, [_seed_result(0, 1.0), _seed_result(0, 2.0)])
    with pytest.raises(ValueError):
        write_summary(tmp_path, [])


# --------------------------------------------------------------------------- provenance

PROVENANCE_KEYS = {
    "rlpipe_version",
    "spec_hash",
    "git_commit",
    "git_dirty",
    "python",
    "torch",
    "gymnasium",
    "numpy",
    "mujoco",
    "platform",
    "cpu_model",
    "cpu_count",
    "cpu_bf16",
    "omp_wait_policy",
    "torch_threads",
    "device",
    "gpu_name",
    "cuda_version",
    "cudnn_version",
    "started_at",
}


def test_provenance_outside_a_git_repo_has_all_keys_and_no_commit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.delenv("GIT_DIR", raising=False)
    prov = provenance("abc123", "cpu")
    assert set(prov) == PROVENANCE_KEYS
    assert prov["git_commit"] is None and prov["git_dirty"] is None
    assert prov["spec_hash"] == "abc123"
    assert prov["device"] == "cpu"
    assert prov["torch"] == torch.__version__
    assert prov["gpu_name"] is None
    assert prov["torch_threads"] == torch.get_num_threads()
    assert prov["cpu_bf16"] in {"native", "emulated", None}
    started = datetime.datetime.fromisoformat(prov["started_at"])
    assert started.utcoffset() == datetime.timedelta(0)
    json.dumps(prov, allow_nan=False)


@pytest.mark.parametrize(
    "flags,expected",
    [({"avx2", "avx512_bf16"}, "native"), ({"amx_bf16", "amx_tile"}, "native"),
     ({"avx2", "avx512f"}, "emulated"), (set(), None)],
)  # fmt: skip
def test_provenance_says_whether_bf16_is_native_from_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(provenance_module, "cpu_flags", lambda: flags)
    assert cpu_bf16() == expected


def test_provenance_without_git_installed_has_no_commit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    prov = provenance("abc123", "cpu")
    assert prov["git_commit"] is None and prov["git_dirty"] is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_provenance_in_a_git_repo_records_commit_and_dirty_flag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GIT_DIR", raising=False)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    Path("README").write_text("x\n")
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    clean = provenance("h", "cpu")
    assert clean["git_commit"] == head and clean["git_dirty"] is False
    Path("runs").mkdir()
    Path("runs/summary.json").write_text("{}\n")
    subprocess.run([*git, "add", "runs"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a run"], check=True)
    Path("runs/summary.json").unlink()  # what `rlpipe train --overwrite` does to a tracked run
    assert provenance("h", "cpu")["git_dirty"] is False
    Path("README").write_text("changed\n")
    assert provenance("h", "cpu")["git_dirty"] is True


def test_finish_provenance_adds_finished_at_without_changing_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prov = provenance("h", "cpu")
    finished = finish_provenance(prov)
    assert "finished_at" not in prov
    assert set(finished) == PROVENANCE_KEYS | {"finished_at"}
    assert finished["finished_at"] >= finished["started_at"]


# --------------------------------------------------------------------------- paths


def test_run_dir_and_seed_dir_follow_the_layout(tmp_path):
    assert RunFolder.for_spec("crossq", "hopper").path == Path("runs/crossq-hopper")
    run = RunFolder.for_spec("sac", "cartpole", root=tmp_path)
    assert run.path == tmp_path / "sac-cartpole"
    assert run.seed(3).path == tmp_path / "sac-cartpole" / "seed-3"
    assert RunFolder(run.path, tmp_path / "art").seed(3).model == tmp_path / "art/seed-3/model.pt"


@pytest.mark.parametrize("spec_name", ["", "..", "a/b", "hop per"])
def test_run_dir_rejects_names_that_are_not_plain(spec_name):
    with pytest.raises(RlpipeError):
        RunFolder.for_spec("crossq", spec_name)


def test_a_symlink_to_a_run_folder_takes_the_folders_own_lock(tmp_path):
    from rlpipe.rundir.lock import run_folder_lock

    folder = tmp_path / "run"
    folder.mkdir()
    (tmp_path / "alias").symlink_to(folder)
    with (
        run_folder_lock(folder),
        pytest.raises(RlpipeError, match="is being written by rlpipe train"),
        run_folder_lock(tmp_path / "alias"),
    ):
        pass
    with run_folder_lock(tmp_path / "alias"):  # released: free again
        pass
