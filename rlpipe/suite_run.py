"""`rlpipe suite run`: train the suite's stale DVC train stages (here, or as Ray tasks),
record each finished one with `dvc commit`, then `dvc repro` for eval, plot and report.

A committed stage is recorded in dvc.lock exactly as if `dvc repro` had run it: same
command, same outputs, hashes taken from the working tree. Ray workers write into the same
working tree, which must be on a filesystem every node shares, at the same path.
"""

from __future__ import annotations

import itertools
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rlpipe.errors import RlpipeError
from rlpipe.scale import CommandResult, Resources, Runner, Running, make_runner
from rlpipe.spec import DEFAULT_SUITE, Suite, load_suite
from rlpipe.suite_progress import ProgressReporter
from rlpipe.suite_sources import (
    Source,
    SourceSnapshot,
    listed,
    overlaps,
    stage_outs,
    stage_sources,
    uncommitted,
)

if TYPE_CHECKING:
    from rlpipe.stages import TrainStage
    from rlpipe.suite_deadline import Deadline

POLL_S = 1.0


@dataclass(frozen=True)
class StaleStage:
    """A train stage DVC would re-run, with its command as DVC interpolated it."""

    name: str  # e.g. train-crossq-cartpole, train-crossq-hopper-seeds-0-1
    cmd: str
    after: str | None = None  # the earlier part of its chain it resumes (runs first)
    run: str = ""  # the suite run it trains, e.g. crossq-hopper
    group: str = ""  # its seed group, e.g. seeds-0-1 ("" when the stage trains every seed)


@dataclass(frozen=True)
class SuiteRunResult:
    """The train stages trained and committed, and whether `dvc repro` ran after; with
    --time-limit, the stages left for a later run."""

    trained: list[str]
    reproduced: bool
    left: list[str] = field(default_factory=list)


def stale_train_stages(root: Path) -> list[StaleStage]:
    """The suite's train stages (whole runs and seed groups) whose code, spec, command or run
    files changed since dvc.lock recorded them; weights merely missing from the cache (a fresh
    clone) are not a change, as `dvc repro --allow-missing` sees it."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    from rlpipe.stages import stage_status, train_stages

    trains = train_stages(load_suite(root / DEFAULT_SUITE), root / "pipelines")
    names = [stage.name for stage in trains]
    after = {b.name: a.name for a, b in itertools.pairwise(trains) if b.part > 1}
    stale = {status.stage for status in stage_status(root, names)}
    try:
        with Repo(str(root)) as repo:
            stages = {stage.addressing: stage for stage in repo.index.stages}
    except DvcException as exc:
        raise RlpipeError(f"{root}: dvc cannot read the pipeline: {exc}") from None
    return [
        StaleStage(
            stage.name,
            stages[stage.name].cmd,
            after.get(stage.name),
            stage.run,
            _group(stage),
        )
        for stage in trains
        if stage.name in stale
    ]


def parse_only(
    suite: Suite, only: tuple[str, ...], trains: list[TrainStage]
) -> dict[str, set[str] | None]:
    """`--only` values as {run: its seed groups to train, or None for all of them}: RUN, or
    RUN/seeds-A-B for one seed group (a row that trains over several sessions)."""
    chosen: dict[str, set[str] | None] = {}
    unknown = sorted({value.split("/")[0] for value in only} - set(suite.runs))
    if unknown:
        raise RlpipeError(
            f"--only {', '.join(unknown)}: not a run of {DEFAULT_SUITE} "
            f"(its runs: {', '.join(suite.runs)})"
        )
    for value in only:
        key, slash, group = value.partition("/")
        if not slash:
            chosen[key] = None
            continue
        names = list(dict.fromkeys(_group(s) for s in trains if s.run == key and s.seeds))
        if not names:
            raise RlpipeError(
                f"--only {value}: {key} trains all its seeds in one stage (no seed_groups in "
                f"{DEFAULT_SUITE}): use --only {key}"
            )
        if group not in names:  # a typo, or nothing after the slash
            raise RlpipeError(
                f"--only {value}: {key} has no seed group {group!r} (its groups: "
                f"{', '.join(names)})"
            )
        if (groups := chosen.setdefault(key, set())) is not None:  # None: RUN chose them all
            groups.add(group)
    return chosen


def _group(stage: TrainStage) -> str:
    """A train stage's seed group, e.g. seeds-0-1 ("" for a stage that trains every seed)."""
    from rlpipe.rundir import group_name

    return group_name(stage.seeds) if stage.seeds else ""


def _chosen(stage: StaleStage, chosen: dict[str, set[str] | None]) -> bool:
    if not chosen:
        return True
    if stage.run not in chosen:
        return False
    groups = chosen[stage.run]
    return groups is None or stage.group in groups


def _dvc_yaml_stages(root: Path) -> dict[str, Any]:
    from rlpipe.stages import DVC_FILE

    try:
        document = yaml.safe_load((root / DVC_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RlpipeError(f"{root / DVC_FILE}: cannot read it: {exc}") from None
    stages = document.get("stages") or {}
    return stages if isinstance(stages, dict) else {}


def _downstream_of(stages: dict[str, Any], runs: tuple[str, ...]) -> list[str]:
    """The summarize, eval and replay stages of the runs, in dvc.yaml's order (each names its
    run folder, runs/<key>, as an argument of its command)."""
    folders = {f"runs/{key}" for key in runs}
    return [
        name
        for name, stage in stages.items()
        if not name.startswith(("train-", "code-"))
        and isinstance(stage, dict)
        and folders & set(shlex.split(str(stage.get("cmd", ""))))
    ]


def refresh_fingerprints(root: Path, show: Callable[[str], None] = lambda _: None) -> None:
    """Re-run the code stages (seconds), so that the train stages whose code changed what it
    does are stale and those whose code changed only in docs or types are not."""
    names = [name for name in _dvc_yaml_stages(root) if _is_code_stage(name)]
    if names:
        show(f"code fingerprints: dvc repro -s {' '.join(names)}")
        _dvc(root, "repro", "--single-item", *names)


def _dvc(root: Path, *args: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise RlpipeError(f"dvc {' '.join(args)} failed: {output[-2000:]}")


def run_suite(
    root: Path,
    use_ray: bool,
    address: str | None,
    repro: bool = True,
    show: Callable[[str], None] = lambda _: None,
    only: tuple[str, ...] = (),
    git_commit: bool = False,
    progress_every_s: float = 300.0,
    time_limit_s: float | None = None,
) -> SuiteRunResult:
    """Train every stale train stage (of the `only` runs or seed groups, if given), commit
    each that finishes, then `dvc repro`.

    Here the stages run one at a time; on Ray all are submitted and the cluster schedules
    them by the CPUs (the suite's seeds) and GPUs (device cuda) each needs. A failed stage
    fails the command with its name and the worker's output; finished ones stay committed.
    With `git_commit`, each finished stage (and the repro after) is also a git commit. Every
    `progress_every_s`, each running stage's frames so far are shown (rlpipe.suite_progress).
    With `time_limit_s`, a stage that would end after it is left for a later run, with the
    later parts of its chain (rlpipe.suite_deadline); the repro then leaves what needs them.
    """
    from rlpipe.stages import require_current_dvc_yaml, train_stages

    began = time.monotonic()  # the time limit counts from here, DVC's checks included
    if use_ray and time_limit_s is not None:
        raise RlpipeError(
            "--time-limit times stages run here, one at a time; with --ray the cluster "
            "queues them, so their end cannot be foreseen: drop --ray, or leave the limit to "
            "the cluster's job scheduler"
        )

    suite = load_suite(root / DEFAULT_SUITE)
    require_current_dvc_yaml(root, suite, DEFAULT_SUITE)
    trains = train_stages(suite, root / "pipelines")  # every spec resolves before anything runs
    chosen = parse_only(suite, only, trains)
    every = _dvc_yaml_stages(root)
    sources = recorded_sources(every, trains, tuple(chosen) if chosen else ())
    if git_commit and (dirty := uncommitted(root, sources)):
        raise RlpipeError(
            "--git-commit commits what the stages make, so what they are made from must be "
            f"committed first; these differ from git's HEAD: {listed(dirty)}. Commit or "
            "stash them, then run again"
        )
    snapshot = SourceSnapshot(root, sources)
    refresh_fingerprints(root, show)
    every_stale = stale_train_stages(root)
    stages = [s for s in every_stale if _chosen(s, chosen)]
    show(f"{len(stages)} stale train stages: {', '.join(s.name for s in stages) or 'none'}")
    trained: list[str] = []
    failures: list[str] = []
    deadline = None
    if stages:
        runner = make_runner(use_ray, address)
        try:
            cpus = min(float(suite.seeds), runner.max_cpus_per_node())
            gpus = 1.0 if suite.device.startswith("cuda") else 0.0
            at_once = len(stages) if use_ray else 1
            progress = ProgressReporter(root, show, progress_every_s)
            if time_limit_s is not None:
                from rlpipe.suite_deadline import Deadline, stage_shapes

                shapes = stage_shapes(suite, trains, root / "pipelines")
                deadline = Deadline(root, time_limit_s, shapes, int(cpus), began)
            recorder = _Recorder(root, every, snapshot, git_commit)
            _run_stages(root, stages, runner, Resources(cpus, gpus), at_once,
                        trained, failures, show, recorder, progress, deadline)  # fmt: skip
        finally:
            runner.close()
    left = deadline.left if deadline else []
    if left:
        show(f"left for a later run (--time-limit): {', '.join(left)}")
    if failures:
        kept = f"; committed: {', '.join(trained)}" if trained else ""
        raise RlpipeError("train stages failed:\n" + "\n".join(failures) + kept)
    if repro and (moved := snapshot.changed(sources)):
        raise RlpipeError(
            f"not running the repro after: {listed(moved)} changed while the stages trained, "
            "and the eval, plot and report would be recorded as made from the new "
            "version. The trained stages are recorded. Commit or revert the change, then "
            "run `rlpipe suite run` again: it trains nothing already recorded"
        )
    if repro:
        # --allow-missing: on a fresh clone the weights of finished rows are not here; without
        # it `dvc repro` would retrain every row to make them.
        if only or left:  # not `dvc repro`: it would also train the stages not trained here
            untrained = [s.name for s in every_stale if s.name not in trained]
            _repro_downstream(root, every, tuple(chosen or suite.runs), untrained, show)
        else:
            show("dvc repro --allow-missing (eval, plot, report)")
            _dvc(root, "repro", "--allow-missing")
        if git_commit:
            from rlpipe.suite_git import commit_stages

            message = "dvc repro --allow-missing after rlpipe suite run: eval, plot, report"
            if commit_stages(root, list(every), message):
                show("committed the repro's outputs to git")
    return SuiteRunResult(trained, repro, left)


def _repro_downstream(
    root: Path,
    every: dict[str, Any],
    runs: tuple[str, ...],
    untrained: list[str],
    show: Callable[[str], None],
) -> None:
    """`dvc repro` the runs' summarize, eval and replay stages, then plot and report, each on
    its own; a stage is skipped while an input is not there yet, or comes from a train stage
    still stale (another seed group, another row) or from a stage skipped here."""
    waiting = {out: name for name in untrained for out in stage_outs(every.get(name))}
    targets = [*_downstream_of(every, runs), *(s for s in ("plot", "report") if s in every)]
    for name in targets:
        deps = [d for d in every[name].get("deps") or [] if isinstance(d, str)]
        if missing := [d for d in deps if not (root / d).exists()]:
            show(f"{name}: skipped: needs {', '.join(missing)}, not there yet")
            # its outputs that are there (in git, from the session that made them) still serve
            waiting.update({o: name for o in stage_outs(every[name]) if not (root / o).exists()})
            continue
        if upstream := sorted({waiting[o] for d in deps for o in waiting if overlaps(d, o)}):
            show(f"{name}: skipped: waits for {', '.join(upstream)}")
            waiting.update({out: name for out in stage_outs(every[name])})
            continue
        show(f"dvc repro --allow-missing --single-item {name}")
        _dvc(root, "repro", "--allow-missing", "--single-item", name)


def recorded_sources(
    every: dict[str, Any], trains: list[TrainStage], runs: tuple[str, ...] = ()
) -> set[Source]:
    """What the stages a suite run of `runs` (every run when empty) may record come from:
    those stages are the code stages, the runs' train stages and the repro's stages after
    (all of dvc.yaml for every run)."""
    if not runs:
        return stage_sources(every, every, through=_is_code_stage)
    chosen = [stage.name for stage in trains if stage.run in runs]
    after = [*_downstream_of(every, runs), *(s for s in ("plot", "report") if s in every)]
    code = [name for name in every if _is_code_stage(name)]
    return stage_sources(every, [*code, *chosen, *after], through=_is_code_stage)


def uncommitted_sources(root: Path) -> list[str]:
    """What a whole suite run comes from that differs from git's HEAD (`rlpipe suite run
    --git-commit` refuses to start while there is any)."""
    return uncommitted(root, recorded_sources(_dvc_yaml_stages(root), []))


def _is_code_stage(name: str) -> bool:
    return name.startswith("code-")


def _run_stages(
    root: Path,
    stages: list[StaleStage],
    runner: Runner,
    resources: Resources,
    at_once: int,
    trained: list[str],
    failures: list[str],
    show: Callable[[str], None],
    recorder: _Recorder,
    progress: ProgressReporter | None = None,
    deadline: Deadline | None = None,
) -> None:
    pending = list(stages)
    stale = {stage.name for stage in stages}
    running: dict[str, Running] = {}
    try:
        while pending or running:
            waiting = {s.name for s in pending} | set(running)
            ready = [s for s in pending if s.after not in waiting]  # a chain's parts in order
            for stage in ready[: max(0, at_once - len(running))]:
                pending.remove(stage)
                if deadline and stage.after in deadline.left:
                    deadline.leave(stage.name)  # its chain resumes in a later run
                    continue
                if stage.after in stale and stage.after not in trained:
                    failures.append(f"{stage.name}: not run, its earlier part {stage.after} failed")
                    continue
                if deadline and (why := deadline.admits(stage.name)):
                    deadline.leave(stage.name)
                    show(f"{stage.name}: {why}")
                    continue
                timing = deadline.started(stage.name) if deadline else ""
                show(f"{stage.name}: started{timing}")
                running[stage.name] = runner.start(stage.cmd, str(root), resources)
                if progress:
                    progress.started(stage.name, stage.cmd)
            for name, handle in list(running.items()):
                if (result := handle.poll()) is not None:
                    del running[name]
                    if progress:
                        progress.finished(name)
                    if deadline and result.returncode == 0:
                        deadline.finished(name)
                    _finish(name, result, trained, failures, show, recorder)
            if running:
                if progress:
                    progress.tick()
                time.sleep(POLL_S)
    finally:  # interrupted: stop what still runs, and wait for it to save its state
        for handle in running.values():
            handle.stop()
        while any(handle.poll() is None for handle in running.values()):
            time.sleep(POLL_S)


@dataclass(frozen=True)
class _Recorder:
    """How a finished train stage is recorded: `dvc commit`, and a git commit with
    `git_commit`, each only while the stage's spec is as it was when the suite started."""

    root: Path
    every: dict[str, Any]  # dvc.yaml's stages
    snapshot: SourceSnapshot
    git_commit: bool


def _finish(
    name: str,
    result: CommandResult,
    trained: list[str],
    failures: list[str],
    show: Callable[[str], None],
    recorder: _Recorder,
) -> None:
    where = f" on {result.host}" if result.host else ""
    if result.returncode != 0:
        failures.append(f"{name}{where}: exit code {result.returncode}: {result.output_tail}")
        show(f"{name}: failed{where}")
        return
    root = recorder.root
    if moved := recorder.snapshot.changed(stage_sources(recorder.every, [name])):
        failures.append(
            f"{name}{where}: trained, but not recorded: {listed(moved)} changed while it "
            f"trained, and dvc.lock would say the run came from the new version. Its outputs "
            f"are in place: revert the change and run `dvc commit --force {name}`, or train "
            "it again"
        )
        show(f"{name}: trained{where}, not recorded (its inputs changed)")
        return
    try:
        _dvc(root, "commit", "--force", name)
    except RlpipeError as error:  # the training is done and kept: only the record is missing
        failures.append(
            f"{name}{where}: trained, but not committed to dvc.lock ({error}); its outputs are "
            f"in place: run `dvc commit --force {name}`"
        )
        show(f"{name}: trained{where}, not committed")
        return
    trained.append(name)
    show(f"{name}: trained{where}, committed to dvc.lock")
    if recorder.git_commit:
        from rlpipe.suite_git import commit_stages

        try:
            commit_stages(root, [name], f"Train stage {name} (rlpipe suite run{where})")
        except RlpipeError as error:
            failures.append(f"{name}{where}: trained and in dvc.lock, but not in git ({error})")
            return
        show(f"{name}: committed to git")
