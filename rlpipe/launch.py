"""One run: prepare its folder, train every seed (in parallel processes when cores allow), summarise."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlpipe.errors import RlpipeError
from rlpipe.fast import check_compilable, compile_by_default, planned_updates
from rlpipe.runs import (
    PROVENANCE_FILE,
    SPEC_FILE,
    atomic_write_json,
    finish_provenance,
    provenance,
    run_dir_for,
    seed_dir,
    write_summary,
)
from rlpipe.seedloop import SeedProgress
from rlpipe.spec import ResolvedSpec, Spec
from rlpipe.train import train_seed


@dataclass(frozen=True)
class TrainOptions:
    """How to run a spec: where, on what device, resuming or not."""

    device: str = "auto"
    out: Path | None = None
    artifacts: Path | None = None  # model.pt and checkpoints; default: inside the run folder
    resume: bool = False
    overwrite: bool = False
    profile: bool = False
    workers: int | None = None
    compile: bool | None = None  # None: where measured faster (rlpipe.fast.compile_by_default)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (kill, dvc's stop, a scheduler) like Ctrl-C while training.

    Python's default SIGTERM exits without running `finally`, which would orphan the seed
    workers; as a KeyboardInterrupt they are terminated and checkpoints are kept.
    """

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resolve_device(name: str) -> torch.device:
    """auto → cuda when available, else cpu; an unavailable cuda is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RlpipeError(f"--device {name}: no CUDA device is available; use --device cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise RlpipeError(f"--device {name}: expected auto, cpu, cuda or cuda:N")
    return torch.device(name)


def prepare_run_dir(resolved: ResolvedSpec, options: TrainOptions) -> Path:
    """Create (or, on resume, check) the run folder and write spec.json."""
    spec = resolved.spec
    run_dir = options.out or run_dir_for(spec.family, spec.name)
    spec_path = run_dir / SPEC_FILE
    if spec_path.exists() and options.overwrite:
        shutil.rmtree(run_dir)
    elif spec_path.exists() and not options.resume:
        raise RlpipeError(
            f"{run_dir} already holds a run; continue it with --resume, replace it with "
            "--overwrite, or choose another folder with --out"
        )
    elif spec_path.exists():
        saved = json.loads(spec_path.read_text())
        if saved.get("spec_hash") != resolved.spec_hash:
            raise RlpipeError(
                f"cannot resume {run_dir}: it was trained from spec hash "
                f"{str(saved.get('spec_hash'))[:12]}, this spec hashes to "
                f"{resolved.spec_hash[:12]}; use the same spec and overrides, or --overwrite"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    if options.artifacts is not None and options.overwrite:
        shutil.rmtree(options.artifacts, ignore_errors=True)
    atomic_write_json(
        spec_path,
        {
            "spec_hash": resolved.spec_hash,
            "spec": spec.model_dump(mode="json"),
            "overrides": list(resolved.overrides),
        },
    )
    return run_dir


def plan_workers(seeds: int, device: torch.device, requested: int | None) -> tuple[int, int]:
    """(parallel seed processes, torch threads each) for this machine."""
    cores = os.cpu_count() or 1
    if requested is not None:
        workers = max(1, min(requested, seeds))
    else:
        workers = 1 if device.type == "cuda" else max(1, min(seeds, cores))
    return workers, max(1, cores // workers)


def _seed_worker(
    spec: Spec,
    seed: int,
    folder: Path,
    artifact_folder: Path,
    device: str,
    resume: bool,
    profile: bool,
    threads: int,
    messages: Any,
    compile: bool,
) -> None:
    torch.set_num_threads(threads)
    try:
        result = train_seed(
            spec,
            seed,
            folder,
            torch.device(device),
            resume,
            profile,
            messages.put,
            artifact_folder,
            compile,
        )
        messages.put(("done", seed, result))
    except RlpipeError as exc:
        messages.put(("error", seed, str(exc)))
    except KeyboardInterrupt:
        messages.put(("error", seed, "interrupted"))
    except BaseException as exc:  # a bug: still report which seed died and why
        messages.put(("error", seed, f"{type(exc).__name__}: {exc}"))
        raise


def _train_parallel(
    spec: Spec,
    run_dir: Path,
    device: torch.device,
    options: TrainOptions,
    workers: int,
    threads: int,
    report: Callable[[SeedProgress], None],
    compile: bool,
) -> list[dict[str, Any]]:
    artifacts = options.artifacts or run_dir
    context = mp.get_context("spawn")
    messages = context.Queue()
    pending = list(spec.meta.seed_list)
    running: dict[int, Any] = {}
    results: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    try:
        while pending or running:
            while pending and len(running) < workers and not errors:
                seed = pending.pop(0)
                args = (spec, seed, seed_dir(run_dir, seed), seed_dir(artifacts, seed),
                        str(device), options.resume,
                        options.profile and not results and not running, threads, messages, compile)  # fmt: skip
                running[seed] = context.Process(target=_seed_worker, args=args, daemon=True)
                running[seed].start()
            if errors and not running:
                break
            try:
                message = messages.get(timeout=0.5)
            except queue.Empty:
                for seed, process in list(running.items()):
                    if not process.is_alive() and seed not in results:
                        errors.append(f"seed {seed}: worker exited with code {process.exitcode}")
                        running.pop(seed)
                continue
            if isinstance(message, SeedProgress):
                report(message)
                continue
            kind, seed, payload = message
            running.pop(seed).join()
            if kind == "done":
                results[seed] = payload
            else:
                errors.append(f"seed {seed}: {payload}")
                pending.clear()
    finally:
        for process in running.values():
            process.terminate()
            process.join()
    if errors:
        raise RlpipeError("; ".join(errors))
    return [results[s] for s in spec.meta.seed_list]


def train_run(
    resolved: ResolvedSpec,
    options: TrainOptions,
    report: Callable[[SeedProgress], None] = lambda _: None,
) -> tuple[Path, dict[str, Any]]:
    """Train every seed of a resolved spec; returns the run folder and its summary."""
    spec = resolved.spec
    device = resolve_device(options.device)
    compile = options.compile
    if compile is None:
        compile = compile_by_default(spec, device, updates=planned_updates(spec))
    elif compile:
        check_compilable(spec.algorithm.name)  # before the run folder is touched
    run_dir = prepare_run_dir(resolved, options)
    provenance_path = run_dir / PROVENANCE_FILE
    workers, threads = plan_workers(spec.meta.seeds, device, options.workers)
    if options.resume and provenance_path.exists():
        record = json.loads(provenance_path.read_text())
        record["resumes"] = record.get("resumes", 0) + 1
    else:
        torch.set_num_threads(threads)
        record = provenance(resolved.spec_hash, str(device))
    record["seed_workers"] = workers
    record["compiled"] = compile
    atomic_write_json(provenance_path, record)

    if workers == 1:
        torch.set_num_threads(threads)
        artifacts = options.artifacts or run_dir
        first = spec.meta.seed_list[0]
        results = [
            train_seed(
                spec,
                s,
                seed_dir(run_dir, s),
                device,
                options.resume,
                options.profile and s == first,
                report,
                seed_dir(artifacts, s),
                compile,
            )
            for s in spec.meta.seed_list
        ]
    else:
        results = _train_parallel(spec, run_dir, device, options, workers, threads, report, compile)
    summary = write_summary(run_dir, results)
    atomic_write_json(provenance_path, finish_provenance(record))
    return run_dir, summary
