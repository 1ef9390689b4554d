"""provenance.json: where, with what and from which commit a run was produced."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Mapping
from typing import Any

import numpy as np

import rlpipe


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


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""CPU flags (as /proc/cpuinfo names them) of native bf16 matmul instructions; without them
torch emulates bf16 on the CPU, which can be slower than fp32."""


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags") and ":" in line:
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_bf16() -> str | None:
    """ "native" if the CPU has bf16 matmul instructions, "emulated" if not, None if unknown."""
    flags = cpu_flags()
    if not flags:
        return None
    return "native" if flags & set(NATIVE_BF16_FLAGS) else "emulated"


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
        "cpu_bf16": cpu_bf16(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
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
