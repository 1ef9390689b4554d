"""The run folder and everything written into it: atomic writes, metrics, summary, provenance."""

from rlpipe.rundir.atomic import (
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from rlpipe.rundir.folder import (
    CHECKPOINT_DIR,
    EVAL_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PROVENANCE_FILE,
    RESULT_FILE,
    SPEC_FILE,
    SUMMARY_FILE,
    DamagedRunFile,
    RunFolder,
    SavedSpec,
    SeedFolder,
    SeedGroup,
    group_name,
    read_json,
)
from rlpipe.rundir.lock import run_folder_lock
from rlpipe.rundir.metrics import WALL_CLOCK_COLUMNS, MetricsLog, read_rows, truncate_after
from rlpipe.rundir.summary import SeedResult, Summary

__all__ = [
    "CHECKPOINT_DIR",
    "EVAL_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "PROVENANCE_FILE",
    "RESULT_FILE",
    "SPEC_FILE",
    "SUMMARY_FILE",
    "WALL_CLOCK_COLUMNS",
    "DamagedRunFile",
    "MetricsLog",
    "RunFolder",
    "SavedSpec",
    "SeedFolder",
    "SeedGroup",
    "SeedResult",
    "Summary",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "group_name",
    "read_json",
    "read_rows",
    "run_folder_lock",
    "truncate_after",
]
