"""One run: check and lock its folder, train every seed (in parallel processes when cores
allow), summarise."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import queue
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from rlpipe.device import resolve_device
from rlpipe.envs import check_env_id
from rlpipe.errors import RlpipeError
from rlpipe.fast import check_compilable, compile_by_default, planned_updates
from rlpipe.loops import SeedJob, plan_workers, train_seed
from rlpipe.loops.seedloop import SeedProgress
from rlpipe.rundir import RunFolder, SeedGroup, Summary, group_name, run_folder_lock
from rlpipe.rundir.contents import check_own_folders, remove_run
from rlpipe.rundir.folder import SeedFolder
from rlpipe.rundir.provenance import finish_provenance, provenance
from rlpipe.rundir.summary import summarize
from rlpipe.spec import ResolvedSpec, Spec


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
    restart_seeds: tuple[int, ...] = ()  # with resume: retrain these seeds from scratch
    only_seeds: tuple[int, ...] = ()  # train just these seeds, as one seed group of the run
    peer: str | None = None  # train this peer library's twin of the spec (rlpipe.peers)
    peer_versions: tuple[str, ...] = ()  # with peer: the exact versions it must train with
    until_frame: int | None = None  # checkpoint every seed at this frame and stop (a chain stage)
    resume_from: Path | None = None  # continue the run paused in this folder, into `out`
    tensorboard: Path | None = None  # also write each seed's rows as TensorBoard scalars here
    wandb: Path | None = None  # also log each seed's rows to W&B (offline files here)
    wandb_project: str = "rlpipe"


@contextlib.contextmanager
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


def check_writable_folder(path: Path, what: str) -> None:
    """Raise RlpipeError unless path is (or can be made) a folder this process can write in."""
    if path.exists() and not path.is_dir():
        raise RlpipeError(f"{what} {path} is a file, not a folder; choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise RlpipeError(
            f"{what} {path} cannot be written: {error.strerror or error}; choose a writable folder"
        ) from None


def _check_options(spec: Spec, run: RunFolder, options: TrainOptions) -> None:
    """Everything that can be checked before the run folder is touched."""
    if options.resume and options.overwrite:
        raise RlpipeError("--resume and --overwrite exclude each other")
    if options.overwrite and run.path.is_symlink():
        raise RlpipeError(
            f"--out {run.path} is a symlink: --overwrite replaces folders, not links; use the "
            f"folder it points to, {run.path.resolve()}"
        )
    if options.restart_seeds and not options.resume:
        raise RlpipeError("--restart-seed retrains seeds of an existing run: add --resume")
    unknown = sorted(set(options.restart_seeds) - set(spec.meta.seed_list))
    if unknown:
        raise RlpipeError(
            f"--restart-seed {unknown[0]}: not a seed of this run (seeds {spec.meta.seed_list})"
        )
    outside = sorted(set(options.only_seeds) - set(spec.meta.seed_list))
    if outside:
        raise RlpipeError(
            f"--only-seeds {outside[0]}: not a seed of this run (seeds {spec.meta.seed_list})"
        )
    if len(set(options.only_seeds)) != len(options.only_seeds):
        raise RlpipeError(f"--only-seeds {list(options.only_seeds)}: a seed is named twice")
    if options.only_seeds and not set(options.restart_seeds) <= set(options.only_seeds):
        raise RlpipeError("--restart-seed: with --only-seeds, restart only seeds of that group")
    if options.until_frame is not None and not 0 < options.until_frame < spec.env.max_frame:
        raise RlpipeError(
            f"--until-frame {options.until_frame}: must be between 0 and the run's max_frame "
            f"({spec.env.max_frame}), exclusive"
        )
    if options.resume_from is not None and options.resume:
        raise RlpipeError("--resume-from continues another folder's run: drop --resume")
    if (
        options.resume_from is not None
        and Path(options.resume_from).resolve() == run.path.resolve()
    ):
        raise RlpipeError("--resume-from names the run folder itself: use --resume")
    if options.peer is not None and (options.until_frame or options.resume_from):
        raise RlpipeError("--until-frame and --resume-from chain rlpipe's own runs, not a peer's")
    if options.peer is not None:
        _check_peer_options(spec, options)
    elif options.peer_versions:
        raise RlpipeError("--peer-version pins the libraries of a --peer run: add --peer")
    check_env_id(spec.env.id)
    for path, what in ((run.path, "run folder"), (run.artifacts, "--artifacts")):
        for parent in [path, *path.parents]:
            if parent.exists() and not parent.is_dir():
                raise RlpipeError(f"{what} {path}: {parent} is a file, not a folder")


def _check_peer_options(spec: Spec, options: TrainOptions) -> None:
    """A peer run: a known peer, a spec it can mirror, the pinned versions installed, and none
    of the options that only rlpipe's own training has."""
    from rlpipe.peers import check_peer
    from rlpipe.peers.mirror import check_mirrorable, check_version_pins

    check_peer(cast("str", options.peer))  # called for peer runs only
    for given, flag in ((options.resume, "--resume"), (options.profile, "--profile"),
                        (options.compile, "--compile")):  # fmt: skip
        if given:
            raise RlpipeError(
                f"{flag} applies to rlpipe's own training, not to a --peer run (a peer run keeps "
                "no checkpoints: train it again with --overwrite)"
            )
    check_mirrorable(spec)
    check_version_pins(spec, options.peer_versions)


def prepare_run_folder(resolved: ResolvedSpec, run: RunFolder, options: TrainOptions) -> bool:
    """Create (or, on resume, check) the run folder and write spec.json; True if it is new."""
    if run.holds_run() and options.overwrite:
        check_own_folders(run, overwrite=True)
        remove_run(run)
    elif run.holds_run() and not options.resume:
        raise RlpipeError(
            f"{run.path} already holds a run; continue it with --resume, replace it with "
            "--overwrite, or choose another folder with --out"
        )
    elif run.holds_run():
        saved = run.read_spec()
        if saved.spec_hash != resolved.spec_hash:
            raise RlpipeError(
                f"cannot resume {run.path}: it was trained from spec hash "
                f"{saved.spec_hash[:12]}, this spec hashes to {resolved.spec_hash[:12]}; use "
                "the same spec and overrides, or --overwrite"
            )
        for seed in options.restart_seeds:
            run.seed(seed).discard()
        paused_at = run.read_provenance().get("paused_at") if run.provenance_file.exists() else None
        meta = saved.spec.meta
        check_checkpoints(run, meta.seed_list, meta.checkpoint_interval, paused_at)
        return False
    elif options.resume:
        raise RlpipeError(
            f"--resume: nothing to resume in {run.path} (no spec.json there); give the run's "
            "folder with --out, or drop --resume to start a new run"
        )
    else:
        check_own_folders(run, overwrite=False)
    check_writable_folder(run.path, "run folder")
    check_writable_folder(run.artifacts, "--artifacts")
    run.write_spec(
        resolved.spec.model_dump(mode="json"), resolved.spec_hash, list(resolved.overrides)
    )
    return True


def prepare_seed_group(resolved: ResolvedSpec, run: RunFolder, options: TrainOptions) -> bool:
    """Check (or clear) the seed group's files before it trains; True if the group is new.

    A seed group trains some seeds of a run into its seed-K folders and records itself in
    groups/seeds-A-B.json; `summarize_groups` later writes the run's own spec, provenance and
    summary once every group has finished. The run's other seeds are never touched.
    """
    seeds = sorted(options.only_seeds)
    record = run.group_file(seeds)
    if not (record.exists() and options.resume):
        check_own_folders(run, overwrite=options.overwrite)
    if record.exists() and options.overwrite:
        for seed in seeds:
            run.seed(seed).discard()
        record.unlink()
    elif record.exists() and not options.resume:
        raise RlpipeError(
            f"{record} already records seeds {seeds}; continue them with --resume, replace them "
            "with --overwrite, or choose another folder with --out"
        )
    elif record.exists():
        group = next(g for g in run.read_groups() if sorted(g.seeds) == seeds)
        if group.spec_hash != resolved.spec_hash:
            raise RlpipeError(
                f"cannot resume {record}: it was trained from spec hash {group.spec_hash[:12]}, "
                f"this spec hashes to {resolved.spec_hash[:12]}; use the same spec, or --overwrite"
            )
        for seed in options.restart_seeds:
            run.seed(seed).discard()
        paused_at = group.provenance.get("paused_at")
        check_checkpoints(run, seeds, resolved.spec.meta.checkpoint_interval, paused_at)
        return False
    elif options.resume:
        raise RlpipeError(
            f"--resume: nothing to resume in {run.path} for seeds {seeds} (no {record} there); "
            "give the run's folder with --out, or drop --resume to train the group"
        )
    if not options.overwrite:
        _check_same_spec_as_other_groups(resolved, run, seeds)
    for seed in seeds:
        leftover = run.seed(seed)
        if any(leftover.path.glob("*")) and not options.overwrite:
            raise RlpipeError(
                f"{leftover.path} already holds files of another training; replace them with "
                "--overwrite"
            )
        if options.overwrite:
            leftover.discard()
    check_writable_folder(run.path, "run folder")
    check_writable_folder(run.artifacts, "--artifacts")
    return True


def _check_same_spec_as_other_groups(
    resolved: ResolvedSpec, run: RunFolder, seeds: list[int]
) -> None:
    """A new seed group must come from the spec of the run's groups already trained, or
    `summarize_groups` would refuse the run once every group had spent its time training."""
    for group in run.read_groups():
        if sorted(group.seeds) != seeds and group.spec_hash != resolved.spec_hash:
            raise RlpipeError(
                f"{run.path} holds seeds {group.seeds} trained from spec hash "
                f"{group.spec_hash[:12]}; this spec hashes to {resolved.spec_hash[:12]}, and a "
                "run's seed groups must share one spec. Use the same spec and overrides, "
                "another --out, or --overwrite to train this group anyway (then retrain the others)"
            )


def check_checkpoints(
    run: RunFolder, seeds: list[int], interval: int, paused_at: int | None = None
) -> None:
    """Refuse to resume a seed that would silently start over: its metrics.csv shows a
    checkpoint was written (every `interval` frames, and at `paused_at`, the frame an
    --until-frame stage stopped at), yet none is where this run looks for it."""
    for seed in seeds:
        folder = run.seed(seed)
        if folder.result.exists() or folder.checkpoint.exists() or not folder.metrics.exists():
            continue
        frames = _logged_frames(folder)
        first_checkpoint = next((frame for frame in frames if frame >= interval), None)
        wrote_one = (first_checkpoint is not None and frames[-1] > first_checkpoint) or (
            paused_at is not None and bool(frames) and frames[-1] >= paused_at
        )
        if not wrote_one:
            continue  # interrupted before its first checkpoint: it starts over by design
        raise RlpipeError(
            f"cannot resume seed {seed} of {run.path}: its metrics.csv reaches frame "
            f"{frames[-1]:,}, so it wrote a checkpoint, but there is none at "
            f"{folder.checkpoint}. If it was trained with --artifacts DIR, resume with the same "
            f"--artifacts; to train this seed again from scratch, add --restart-seed {seed}"
        )


def _logged_frames(folder: SeedFolder) -> list[int]:
    """The frames of a seed's metrics rows; a damaged file is an RlpipeError saying so."""
    try:
        return [int(cast("float", row["frame"])) for row in folder.read_metrics()]
    except (KeyError, TypeError, ValueError, OverflowError, UnicodeDecodeError) as error:
        raise RlpipeError(
            f"{folder.metrics} is damaged ({type(error).__name__}: {error}); train seed "
            f"{folder.seed} again with --resume --restart-seed {folder.seed}"
        ) from None


SeedTrainer = Callable[[Spec, SeedJob], dict[str, Any]]
"""Trains one seed and returns its result: rlpipe's `train_seed`, or a peer's."""


def _seed_worker(train: SeedTrainer, spec: Spec, job: SeedJob, threads: int, messages: Any) -> None:
    torch.set_num_threads(threads)
    try:
        result = train(spec, dataclasses.replace(job, report=messages.put))
        messages.put(("done", job.seed, result))
    except RlpipeError as exc:
        messages.put(("error", job.seed, str(exc)))
    except KeyboardInterrupt:
        messages.put(("error", job.seed, "interrupted"))
    except BaseException as exc:  # a bug: still report which seed died and why
        messages.put(("error", job.seed, f"{type(exc).__name__}: {exc}"))
        raise


def _train_parallel(
    train: SeedTrainer,
    spec: Spec,
    jobs: list[SeedJob],
    workers: int,
    threads: int,
    report: Callable[[SeedProgress], None],
) -> list[dict[str, Any]]:
    context = mp.get_context("spawn")
    messages = context.Queue()
    pending = list(jobs)
    running: dict[int, Any] = {}
    results: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    try:
        while pending or running:
            while pending and len(running) < workers and not errors:
                job = pending.pop(0)
                args = (train, spec, job, threads, messages)
                running[job.seed] = context.Process(target=_seed_worker, args=args, daemon=True)
                running[job.seed].start()
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
    return [results[job.seed] for job in jobs]


def _remove_unstarted(run: RunFolder, group: list[int]) -> None:
    """Remove what a fresh run (or seed group) wrote before it failed to start, so that a
    retry needs no flags."""
    if group:
        if any(run.seed(seed).path.exists() for seed in group):
            return
        run.group_file(group).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            run.group_file(group).parent.rmdir()
    else:
        if any(run.path.glob("seed-*")):
            return
        for path in (run.spec_file, run.provenance_file):
            path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        run.path.rmdir()


def continue_paused_run(paused: RunFolder, run: RunFolder, options: TrainOptions) -> None:
    """Copy a run (or the seed group of options.only_seeds) that an earlier stage of a chain
    paused with --until-frame into `run`, to be resumed there: spec, provenance or group
    record, and each seed's metrics and checkpoint. `run`'s old files of those seeds are
    replaced only with --overwrite."""
    seeds = sorted(options.only_seeds)
    record = paused.group_file(seeds) if seeds else paused.spec_file
    if not record.is_file():
        raise RlpipeError(f"--resume-from {paused.path}: no paused run there ({record} is missing)")
    if not seeds:
        seeds = [folder.seed for folder in paused.seeds_with_metrics()]
    for seed in seeds:
        if not paused.seed(seed).checkpoint.is_file():
            raise RlpipeError(
                f"--resume-from {paused.path}: seed {seed} has no checkpoint to continue from"
            )
    target = run.group_file(seeds) if options.only_seeds else run.spec_file
    occupied = target.exists() or any(run.seed(s).path.exists() for s in seeds)
    if occupied and not options.overwrite:
        raise RlpipeError(
            f"{run.path} already holds this run; replace it with --overwrite, or choose "
            "another folder with --out"
        )
    check_own_folders(run, overwrite=occupied)
    if options.only_seeds:
        for seed in seeds:
            run.seed(seed).discard()
    elif occupied:
        remove_run(run)
    check_writable_folder(run.path, "run folder")
    check_writable_folder(run.artifacts, "--artifacts")
    copies = [(paused.group_file(seeds), target)] if options.only_seeds else [
        (paused.spec_file, run.spec_file), (paused.provenance_file, run.provenance_file)
    ]  # fmt: skip
    for seed in seeds:
        source, into = paused.seed(seed), run.seed(seed)
        copies += [(source.metrics, into.metrics), (source.checkpoint, into.checkpoint)]
    for source, into in copies:
        into.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, into)


def train_run(
    resolved: ResolvedSpec,
    options: TrainOptions,
    report: Callable[[SeedProgress], None] = lambda _: None,
) -> tuple[Path, Summary | None]:
    """Train every seed of a resolved spec; returns the run folder and its summary (None when
    the run was paused at options.until_frame, to be continued with --resume-from)."""
    spec = resolved.spec
    device = resolve_device(options.device)
    compile = options.compile
    if options.peer is not None:
        compile = False
    elif compile is None:
        compile = compile_by_default(spec, device, updates=planned_updates(spec))
    elif compile:
        check_compilable(spec.algorithm.name)
    out = options.out or RunFolder.for_spec(spec.family, spec.name).path
    run = RunFolder(out, options.artifacts)
    _check_options(spec, run, options)
    group = group_name(options.only_seeds) if options.only_seeds else None
    with run_folder_lock(run.path, group):
        if options.resume_from is not None:
            continue_paused_run(RunFolder(options.resume_from), run, options)
            options = dataclasses.replace(options, resume=True, overwrite=False)
        if group:
            fresh = prepare_seed_group(resolved, run, options)
        else:
            fresh = prepare_run_folder(resolved, run, options)
        try:
            summary = _train_seeds(resolved, run, options, device, compile, report)
        except Exception:
            if fresh:
                _remove_unstarted(run, sorted(options.only_seeds))
            raise
    return run.path, summary


def row_views(
    resolved: ResolvedSpec, run: RunFolder, options: TrainOptions, record: dict[str, Any]
) -> tuple[Any, ...]:
    """A seed's views of its metrics rows (TensorBoard, W&B), as the options ask; fresh objects
    per seed, opened in the seed's own process."""
    views: list[Any] = []
    name = run.path.resolve().name
    if options.tensorboard is not None:
        from rlpipe.views.tensorboard import TensorBoardView

        views.append(TensorBoardView(options.tensorboard, name))
    if options.wandb is not None:
        from rlpipe.views.wandb import WandbView

        config = resolved.spec.model_dump(mode="json") | {"spec_hash": resolved.spec_hash}
        tags = [resolved.spec_hash[:12], f"git-{(record.get('git_commit') or 'unknown')[:12]}"]
        views.append(WandbView(options.wandb, options.wandb_project, name, config, tags))
    return tuple(views)


def _train_seeds(
    resolved: ResolvedSpec,
    run: RunFolder,
    options: TrainOptions,
    device: torch.device,
    compile: bool,
    report: Callable[[SeedProgress], None],
) -> Summary | None:
    spec = resolved.spec
    seeds = sorted(options.only_seeds) or spec.meta.seed_list
    workers, threads = plan_workers(len(seeds), device, options.workers)
    group = run.group_file(seeds) if options.only_seeds else None
    if options.resume and group is not None and group.exists():
        record = dict(next(g for g in run.read_groups() if sorted(g.seeds) == seeds).provenance)
        record["resumes"] = record.get("resumes", 0) + 1
    elif options.resume and group is None and run.provenance_file.exists():
        record = run.read_provenance()
        record["resumes"] = record.get("resumes", 0) + 1
    else:
        torch.set_num_threads(threads)
        record = provenance(resolved.spec_hash, str(device))
    train = train_seed
    if options.peer is not None:
        from rlpipe.peers import import_peer_module
        from rlpipe.peers.mirror import peer_record

        train = import_peer_module("rlpipe.peers.train").train_peer_seed
        record["peer"] = peer_record(spec, options.peer)
    record["seed_workers"] = workers
    record["compiled"] = compile

    def write_record(record: dict[str, Any]) -> None:
        if group is None:
            run.write_provenance(record)
            return
        document = resolved.spec.model_dump(mode="json")
        overrides = list(resolved.overrides)
        run.write_group(SeedGroup(seeds=seeds, spec_hash=resolved.spec_hash, spec=document,
                                  overrides=overrides, provenance=record))  # fmt: skip

    write_record(record)
    jobs = [
        SeedJob(run.seed(s), device, options.resume, options.profile and s == seeds[0], compile,
                stop_at=options.until_frame, sinks=row_views(resolved, run, options, record))
        for s in seeds
    ]  # fmt: skip
    if workers == 1:
        torch.set_num_threads(threads)
        results = [train(spec, dataclasses.replace(job, report=report)) for job in jobs]
    else:
        results = _train_parallel(train, spec, jobs, workers, threads, report)
    if any("paused_at" in result for result in results):
        record["paused_at"] = max(result.get("paused_at", 0) for result in results)
        write_record(record)
        return None
    record.pop("paused_at", None)
    if group is None:
        summary = run.write_summary(results)
    else:  # the group's own numbers; the run's summary.json waits for every group
        summary = Summary.model_validate(summarize(str(group), results))
    write_record(finish_provenance(record))
    return summary
