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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rlpipe.errors import RlpipeError
from rlpipe.scale import CommandResult, Resources, Runner, Running, make_runner
from rlpipe.spec import DEFAULT_SUITE, load_suite

POLL_S = 1.0


@dataclass(frozen=True)
class StaleStage:
    """A train stage DVC would re-run, with its command as DVC interpolated it."""

    name: str  # e.g. train-crossq-cartpole, train-crossq-hopper-seeds-0-1
    cmd: str
    after: str | None = None  # the earlier part of its chain it resumes (runs first)
    run: str = ""  # the suite run it trains, e.g. crossq-hopper


@dataclass(frozen=True)
class SuiteRunResult:
    """The train stages trained and committed, and whether `dvc repro` ran after."""

    trained: list[str]
    reproduced: bool


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
    run_of = {stage.name: stage.run for stage in trains}
    return [
        StaleStage(name, stages[name].cmd, after.get(name), run_of[name])
        for name in names
        if name in stale
    ]


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
    names = [name for name in _dvc_yaml_stages(root) if name.startswith("code-")]
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
) -> SuiteRunResult:
    """Train every stale train stage (of the `only` runs, if given), commit each that
    finishes, then `dvc repro`.

    Here the stages run one at a time; on Ray all are submitted and the cluster schedules
    them by the CPUs (the suite's seeds) and GPUs (device cuda) each needs. A failed stage
    fails the command with its name and the worker's output; finished ones stay committed.
    With `git_commit`, each finished stage (and the repro after) is also a git commit.
    """
    from rlpipe.stages import require_current_dvc_yaml, train_stages

    suite = load_suite(root / DEFAULT_SUITE)
    require_current_dvc_yaml(root, suite, DEFAULT_SUITE)
    train_stages(suite, root / "pipelines")  # every spec resolves before anything runs
    unknown = sorted(set(only) - set(suite.runs))
    if unknown:
        raise RlpipeError(
            f"--only {', '.join(unknown)}: not a run of {DEFAULT_SUITE} "
            f"(its runs: {', '.join(suite.runs)})"
        )
    refresh_fingerprints(root, show)
    stages = [s for s in stale_train_stages(root) if not only or s.run in only]
    show(f"{len(stages)} stale train stages: {', '.join(s.name for s in stages) or 'none'}")
    trained: list[str] = []
    failures: list[str] = []
    if stages:
        runner = make_runner(use_ray, address)
        try:
            cpus = min(float(suite.seeds), runner.max_cpus_per_node())
            gpus = 1.0 if suite.device.startswith("cuda") else 0.0
            at_once = len(stages) if use_ray else 1
            _run_stages(root, stages, runner, Resources(cpus, gpus), at_once,
                        trained, failures, show, git_commit)  # fmt: skip
        finally:
            runner.close()
    if failures:
        kept = f"; committed: {', '.join(trained)}" if trained else ""
        raise RlpipeError("train stages failed:\n" + "\n".join(failures) + kept)
    if repro:
        # --allow-missing: on a fresh clone the weights of finished rows are not here; without
        # it `dvc repro` would retrain every row to make them.
        every = _dvc_yaml_stages(root)
        if only:  # not `dvc repro`: it would also retrain the other runs' stale stages
            targets = [*_downstream_of(every, only), *(s for s in ("plot", "report") if s in every)]
            for name in targets:
                deps = every[name].get("deps") or []
                if missing := [d for d in deps if isinstance(d, str) and not (root / d).exists()]:
                    show(f"{name}: skipped: needs {', '.join(missing)}, not there yet")
                    continue
                show(f"dvc repro --allow-missing --single-item {name}")
                _dvc(root, "repro", "--allow-missing", "--single-item", name)
        else:
            show("dvc repro --allow-missing (eval, plot, report)")
            _dvc(root, "repro", "--allow-missing")
        if git_commit:
            from rlpipe.suite_git import commit_stages

            message = "dvc repro --allow-missing after rlpipe suite run: eval, plot, report"
            if commit_stages(root, list(every), message):
                show("committed the repro's outputs to git")
    return SuiteRunResult(trained, repro)


def _run_stages(
    root: Path,
    stages: list[StaleStage],
    runner: Runner,
    resources: Resources,
    at_once: int,
    trained: list[str],
    failures: list[str],
    show: Callable[[str], None],
    git_commit: bool = False,
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
                if stage.after in stale and stage.after not in trained:
                    failures.append(f"{stage.name}: not run, its earlier part {stage.after} failed")
                    continue
                show(f"{stage.name}: started")
                running[stage.name] = runner.start(stage.cmd, str(root), resources)
            for name, handle in list(running.items()):
                if (result := handle.poll()) is not None:
                    del running[name]
                    _finish(root, name, result, trained, failures, show, git_commit)
            if running:
                time.sleep(POLL_S)
    finally:  # interrupted: stop what still runs, and wait for it to save its state
        for handle in running.values():
            handle.stop()
        while any(handle.poll() is None for handle in running.values()):
            time.sleep(POLL_S)


def _finish(
    root: Path,
    name: str,
    result: CommandResult,
    trained: list[str],
    failures: list[str],
    show: Callable[[str], None],
    git_commit: bool = False,
) -> None:
    where = f" on {result.host}" if result.host else ""
    if result.returncode != 0:
        failures.append(f"{name}{where}: exit code {result.returncode}: {result.output_tail}")
        show(f"{name}: failed{where}")
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
    if git_commit:
        from rlpipe.suite_git import commit_stages

        try:
            commit_stages(root, [name], f"Train stage {name} (rlpipe suite run{where})")
        except RlpipeError as error:
            failures.append(f"{name}{where}: trained and in dvc.lock, but not in git ({error})")
            return
        show(f"{name}: committed to git")
