"""`rlpipe search` end to end: check the space against the spec, open (or resume) the study,
run the trials here or on Ray, and write the search's report."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlpipe.errors import RlpipeError
from rlpipe.scale import Resources, make_runner
from rlpipe.search.report import SearchReport, write_search_report
from rlpipe.search.space import check_space, load_space
from rlpipe.search.study import (
    PrunerName,
    SearchEvent,
    SearchOptions,
    TrialFailed,
    TrialObjective,
    counted_trials,
    open_study,
    settings_for,
)
from rlpipe.search.trial import Objective
from rlpipe.spec import resolve_spec


@dataclass(frozen=True)
class SearchRequest:
    """What to search: a spec, a space file, the -s settings every trial shares, and how."""

    family: str
    spec: str
    space_file: Path
    overrides: tuple[str, ...] = ()
    seeds: int = 1
    objective: Objective = "score"
    pruner: PrunerName = "median"
    startup_trials: int = 5
    warmup_frames: int = 0
    seed: int = 0
    pruner_override: object | None = None  # an Optuna pruner object (tests), else by name


@dataclass(frozen=True)
class SearchOutcome:
    """The report of a search, the trials it re-queued on resume and how many it ran now."""

    report: SearchReport
    requeued: list[int]
    ran: int


class StopAtTrials:
    """Stops a study once --trials trials have finished or are running, counted across every
    process working on its storage: two `--resume --trials 3` on one study run 3, not 6."""

    def __init__(self, trials: int) -> None:
        self.trials = trials

    def __call__(self, study: Any, trial: Any) -> None:
        from optuna.trial import TrialState

        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if counted_trials(study) + running >= self.trials:
            study.stop()


def check_search_name(name: str) -> None:
    """Raise RlpipeError unless a search name is a plain folder name."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise RlpipeError(
            f"--name {name!r}: a search name is a folder name: letters, digits, _ . -"
        )


def run_search(
    request: SearchRequest,
    options: SearchOptions,
    ray: bool = False,
    ray_address: str | None = None,
    report: Callable[[SearchEvent], None] = lambda _: None,
) -> SearchOutcome:
    """Run (or resume) a search until `options.trials` trials have finished."""
    from rlpipe.envs import check_env_id

    check_search_name(options.name)
    if not re.fullmatch(r"auto|cpu|cuda|cuda:[0-9]+", options.device):
        raise RlpipeError(f"--device {options.device}: expected auto, cpu, cuda or cuda:N")
    space = load_space(request.space_file)
    seeds = [f"meta.seeds={request.seeds}"]
    resolved = resolve_spec(
        request.family, request.spec, [*request.overrides, *seeds], options.pipelines
    )
    check_env_id(resolved.spec.env.id)  # here, not as every trial's failure
    check_space(
        space, request.family, request.spec, [*request.overrides, *seeds], options.pipelines
    )
    settings = settings_for(
        resolved,
        space,
        request.overrides,
        request.seeds,
        request.objective,
        request.pruner,
        request.startup_trials,
        request.warmup_frames,
        request.seed,
    )
    study = open_study(settings, options, request.pruner_override)
    waiting = [t for t in study.get_trials(deepcopy=False) if t.state.name == "WAITING"]
    requeued = [t.user_attrs["retry_of"] for t in waiting if "retry_of" in t.user_attrs]
    remaining = max(0, options.trials - counted_trials(study))
    runner = make_runner(ray, ray_address)
    gpus = 1.0 if options.device.startswith("cuda") else 0.0
    resources = Resources(cpus=float(min(options.workers, request.seeds)), gpus=gpus)
    if resources.cpus > runner.max_cpus_per_node():
        runner.close()
        raise RlpipeError(
            f"--workers {options.workers}: no node has {resources.cpus:g} CPUs "
            f"(the largest has {runner.max_cpus_per_node():g})"
        )
    objective = TrialObjective(settings, options, space, runner, resources, report)
    # By default as many trials at once as the cluster has room for (one at a time here).
    parallel = options.parallel or (int(runner.total_cpus() // resources.cpus) if ray else 1)
    before = len(study.trials)
    try:
        if remaining:
            with _stop_trials_on_signals(objective.stop):
                study.optimize(
                    objective,
                    n_trials=remaining,
                    n_jobs=max(1, parallel),
                    catch=(TrialFailed,),
                    callbacks=[StopAtTrials(options.trials)],
                )
    finally:
        runner.close()
        written = write_search_report(
            study, settings, space, options.name, options.folder, _shown(options)
        )
    return SearchOutcome(written, requeued, len(study.trials) - before)


def _shown(options: SearchOptions) -> str:
    return options.storage or str(options.folder / "study.db")


@contextlib.contextmanager
def _stop_trials_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C or SIGTERM sets `stop`, which every running trial polls (each stops its `rlpipe
    train` and is marked interrupted), then interrupts the main thread as before. Signal
    handlers belong to the main thread: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
