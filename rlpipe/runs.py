"""Run folder I/O: atomic writes, metrics.csv, summary.json and provenance.json."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import json
import math
import numbers
import os
import platform
import re
import secrets
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

import rlpipe
from rlpipe.errors import RlpipeError
from rlpipe.stats import bootstrap_ci, iqm

SPEC_FILE = "spec.json"
PROVENANCE_FILE = "provenance.json"
SUMMARY_FILE = "summary.json"
METRICS_FILE = "metrics.csv"
MODEL_FILE = "model.pt"
CHECKPOINT_DIR = "checkpoint"

WALL_CLOCK_COLUMNS = ("wall_s", "fps")
"""metrics.csv columns that legitimately differ between two otherwise identical runs."""

_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")
_RUN_NAME_PART = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
_SEED_KEYS = ("seed", "return_ma", "frames", "wall_s", "fps")


# --------------------------------------------------------------------------- atomic writes


def _write_error(path: Path, error: OSError) -> RlpipeError:
    """Return the user-facing error for an OS failure while writing `path`."""
    reason = error.strerror or str(error)
    return RlpipeError(
        f"could not write {path}: {reason}. Check free disk space and write permission in "
        f"{path.parent}; the previous file, if any, is unchanged."
    )


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry change to disk where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Write `path` through `write` into a temp file beside it, fsync, then rename over it."""
    target = Path(path)
    temp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise _write_error(target, error) from error
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` atomically; on failure raise RlpipeError, old file intact."""
    _atomic_write(path, lambda stream: stream.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace `path` with UTF-8 `text` atomically (newlines written as given)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_ready(obj: Any) -> Any:
    """Return `obj` with NaN/inf floats turned into None and numpy scalars into Python ones."""
    if isinstance(obj, Mapping):
        return {key: _json_ready(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(value) for value in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as canonical JSON (sorted keys, indent 2, newline); NaN/inf become null."""
    text = json.dumps(_json_ready(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"
    atomic_write_text(path, text)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """torch.save `obj` to `path` atomically; on failure raise RlpipeError, old file intact."""
    import torch

    _atomic_write(path, lambda stream: torch.save(obj, stream))


# --------------------------------------------------------------------------- metrics.csv


def _format_cell(column: str, value: Any) -> str:
    """Return the CSV text of one metric value: '' for None, exact ints, '.10g' floats."""
    if value is None:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return format(float(value), ".10g")
    raise ValueError(f"metrics column {column!r} needs a number or None, got {value!r}")


def _parse_cell(path: Path, line_number: int, cell: str) -> float | None:
    """Return a metrics cell as float, None when empty; raise RlpipeError when not a number."""
    if cell == "":
        return None
    try:
        return float(cell)
    except ValueError:
        raise RlpipeError(
            f"{path}, line {line_number}: {cell!r} is not a number; the metrics file is corrupt"
        ) from None


def _complete_lines(path: Path) -> list[str]:
    """Return the newline-terminated lines of `path` without newlines (a torn tail is left out)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RlpipeError(f"no metrics file at {path}: was this seed trained?") from None
    except OSError as error:
        raise RlpipeError(f"could not read {path}: {error.strerror or error}") from error
    return text.split("\n")[:-1]


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, float | None]]:
    """Return the complete rows of a metrics.csv as dicts of float, None for empty cells."""
    source = Path(path)
    lines = _complete_lines(source)
    if not lines:
        return []
    columns = lines[0].split(",")
    rows = []
    for line_number, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(columns):
            raise RlpipeError(
                f"{source}, line {line_number}: {len(cells)} cells for {len(columns)} columns; "
                "the metrics file is corrupt"
            )
        cells_by_column = zip(columns, cells, strict=True)
        rows.append(
            {column: _parse_cell(source, line_number, cell) for column, cell in cells_by_column}
        )
    return rows


def truncate_after(path: str | os.PathLike[str], frame: int) -> int:
    """Atomically keep only the rows with frame <= `frame` (and drop a torn tail); return kept.

    Resume calls this before reopening the log with MetricsLog, so that rows logged after the
    checkpoint are neither duplicated nor lost.
    """
    source = Path(path)
    lines = _complete_lines(source)
    if not lines:
        atomic_write_text(source, "")
        return 0
    columns = lines[0].split(",")
    if "frame" not in columns:
        raise RlpipeError(f"{source} has no 'frame' column (columns: {', '.join(columns)})")
    frame_index = columns.index("frame")
    kept = [lines[0]]
    for line_number, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(columns):
            raise RlpipeError(
                f"{source}, line {line_number}: {len(cells)} cells for {len(columns)} columns; "
                "the metrics file is corrupt"
            )
        row_frame = _parse_cell(source, line_number, cells[frame_index])
        if row_frame is None:
            raise RlpipeError(f"{source}, line {line_number}: the frame cell is empty")
        if row_frame <= frame:
            kept.append(line)
    atomic_write_text(source, "".join(line + "\n" for line in kept))
    return len(kept) - 1


class MetricsLog:
    """Append-only metrics.csv of one seed, with columns fixed when it is created."""

    read_rows = staticmethod(read_rows)
    truncate_after = staticmethod(truncate_after)

    def __init__(self, path: str | os.PathLike[str], columns: Iterable[str]) -> None:
        """Open (or create with a header) the metrics file; drop a torn last line if present."""
        self.path = Path(path)
        self.columns: tuple[str, ...] = tuple(columns)
        self._check_columns()
        header = ",".join(self.columns)
        existing = self._drop_torn_tail()
        if existing == "":
            atomic_write_text(self.path, header + "\n")
        elif existing.split("\n", 1)[0] != header:
            found = existing.split("\n", 1)[0]
            raise RlpipeError(
                f"{self.path} has columns [{found}] but this run logs [{header}]; resume with the "
                "same spec, or move the old run folder away"
            )
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as error:
            raise RlpipeError(f"could not open {self.path}: {error.strerror or error}") from error

    def _check_columns(self) -> None:
        """Raise ValueError unless columns are unique, non-empty, CSV-safe names."""
        if not self.columns:
            raise ValueError("MetricsLog needs at least one column")
        bad = [name for name in self.columns if not _COLUMN_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"invalid metrics column names {bad}: use letters, digits, _ . : / -")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"duplicate metrics columns in {list(self.columns)}")

    def _drop_torn_tail(self) -> str:
        """Return the file's complete text, first rewriting it atomically without a torn tail."""
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return ""
        except OSError as error:
            raise RlpipeError(f"could not read {self.path}: {error.strerror or error}") from error
        if content and not content.endswith(b"\n"):
            content = content[: content.rfind(b"\n") + 1]
            atomic_write_bytes(self.path, content)
        return content.decode("utf-8")

    def append(self, row: Mapping[str, Any]) -> None:
        """Append one row as a single write + fsync; unknown keys raise, missing keys are empty."""
        unknown = sorted(set(row) - set(self.columns))
        if unknown:
            raise ValueError(
                f"unknown metrics columns {unknown}; this log has {list(self.columns)}"
            )
        if self._fd is None:
            raise ValueError(f"MetricsLog for {self.path} is closed")
        cells = [_format_cell(column, row.get(column)) for column in self.columns]
        line = (",".join(cells) + "\n").encode("utf-8")
        size_before = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes)")
            os.fsync(self._fd)
        except OSError as error:
            # If even this fails, the torn line is dropped when the log is next opened.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size_before)
            raise _write_error(self.path, error) from error

    def close(self) -> None:
        """Close the file; further appends raise."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> MetricsLog:
        """Return self, closed on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the file."""
        self.close()

    def __del__(self) -> None:
        """Close the file if the owner forgot to."""
        if getattr(self, "_fd", None) is not None:
            self.close()


# --------------------------------------------------------------------------- summary.json


def _mean_or_none(values: list[float | None]) -> float | None:
    """Return the mean of `values`, or None if any is missing or not finite."""
    if any(value is None or not math.isfinite(value) for value in values):
        return None
    return float(np.mean(np.asarray(values, dtype=np.float64)))


def _seed_result(run_dir: Path, result: Mapping[str, Any]) -> dict[str, Any]:
    """Return one seed's result with plain Python types, raising ValueError on missing keys."""
    missing = [key for key in _SEED_KEYS if key not in result]
    if missing:
        raise ValueError(f"seed result for {run_dir} lacks {missing}: got {sorted(result)}")

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        "seed": int(result["seed"]),
        "return_ma": number(result["return_ma"]),
        "eval_return": number(result.get("eval_return")),
        "frames": int(result["frames"]),
        "wall_s": float(result["wall_s"]),
        "fps": float(result["fps"]),
    }


def write_summary(
    run_dir: str | os.PathLike[str], seed_results: list[Mapping[str, Any]]
) -> dict[str, Any]:
    """Write run_dir/summary.json from per-seed results and return it.

    `score` is the one definition of a run's score: the mean over seeds of the final training
    return moving average (`return_ma`). `score_iqm` and `score_ci95` (95% percentile bootstrap
    of the mean, seed 0) are over the same per-seed values. Score fields are None if any seed
    has no finite `return_ma` (e.g. no episode finished); `eval_return` is None if any seed
    lacks one. All seeds must have run the same number of frames.
    """
    directory = Path(run_dir)
    if not seed_results:
        raise ValueError(f"write_summary for {directory} needs at least one seed result")
    per_seed = sorted((_seed_result(directory, r) for r in seed_results), key=lambda r: r["seed"])
    seeds = [r["seed"] for r in per_seed]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"duplicate seeds in results for {directory}: {seeds}")
    frames = {r["frames"] for r in per_seed}
    if len(frames) != 1:
        detail = ", ".join(f"seed {r['seed']}: {r['frames']}" for r in per_seed)
        raise RlpipeError(
            f"seeds of {directory} ran different numbers of frames ({detail}); a run's seeds "
            "must all finish (resume the short ones with --resume) before it is summarised"
        )
    returns = [r["return_ma"] for r in per_seed]
    score = _mean_or_none(returns)
    summary = {
        "score": score,
        "score_iqm": None if score is None else iqm(returns),
        "score_ci95": None if score is None else list(bootstrap_ci(returns, seed=0)),
        "eval_return": _mean_or_none([r["eval_return"] for r in per_seed]),
        "frames": frames.pop(),
        "fps": float(np.mean([r["fps"] for r in per_seed])),
        "wall_s": max(r["wall_s"] for r in per_seed),
        "seeds": seeds,
        "per_seed": per_seed,
    }
    summary = _json_ready(summary)
    atomic_write_json(directory / SUMMARY_FILE, summary)
    return summary


# --------------------------------------------------------------------------- provenance


def _git(*args: str) -> str | None:
    """Return stdout of a git command in the current directory, or None if it fails."""
    try:
        completed = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout if completed.returncode == 0 else None


def package_version(name: str) -> str | None:
    """Return an installed distribution's version without importing it, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str | None:
    """Return the CPU model name from /proc/cpuinfo, else platform.processor(), else None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _utc_now() -> str:
    """Return the current UTC time as ISO-8601 with seconds, e.g. 2025-01-31T12:00:00+00:00."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# What `dvc repro` itself writes: changes there do not make the code a run came from dirty
# (re-running a committed suite replaces its tracked run folders before training).
PIPELINE_OUTPUTS = ("runs", "evals", "reports", "artifacts", "dvc.lock")


def provenance(spec_hash: str, device: str) -> dict[str, Any]:
    """Return where, with what and from which commit a run is produced; never raises."""
    import torch

    commit = _git("rev-parse", "HEAD")
    status = None
    if commit is not None:
        outputs = (f":(top,exclude){path}" for path in PIPELINE_OUTPUTS)
        status = _git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", *outputs)
    gpu_name = cuda_version = cudnn_version = None
    if device.startswith("cuda"):
        try:
            gpu_name = torch.cuda.get_device_name(torch.device(device))
            cuda_version = torch.version.cuda
            cudnn_version = torch.backends.cudnn.version()
        except (RuntimeError, AssertionError, ValueError):
            pass  # no usable GPU: training will say so; provenance must not
    return {
        "rlpipe_version": rlpipe.__version__,
        "spec_hash": spec_hash,
        "git_commit": commit.strip() if commit is not None else None,
        "git_dirty": bool(status.strip()) if status is not None else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gymnasium": package_version("gymnasium"),
        "numpy": np.__version__,
        "mujoco": package_version("mujoco"),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "gpu_name": gpu_name,
        "cuda_version": cuda_version,
        "cudnn_version": cudnn_version,
        "started_at": _utc_now(),
    }


def finish_provenance(prov: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of `prov` with `finished_at` set to now (ISO-8601 UTC)."""
    return {**prov, "finished_at": _utc_now()}


# --------------------------------------------------------------------------- paths


def run_dir_for(family: str, spec_name: str, root: Path = Path("runs")) -> Path:
    """Return the run folder root/<family>-<spec_name>, rejecting names that are not plain."""
    for what, name in (("family", family), ("spec name", spec_name)):
        if not _RUN_NAME_PART.fullmatch(name) or name in (".", ".."):
            raise RlpipeError(
                f"{what} {name!r} cannot name a run folder: use letters, digits, _ . -"
            )
    return Path(root) / f"{family}-{spec_name}"


def seed_dir(run_dir: str | os.PathLike[str], seed: int) -> Path:
    """Return the folder of one seed: run_dir/seed-<seed>."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return Path(run_dir) / f"seed-{seed}"
