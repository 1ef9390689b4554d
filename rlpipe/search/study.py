"""The Optuna study behind `rlpipe search`: storage, sampler, pruner, resume, and the
objective that trains each trial with `rlpipe train` and feeds its logged returns to the pruner."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rlpipe.errors import RlpipeError
from rlpipe.scale import Resources, Runner
from rlpipe.search.space import SearchSpace, as_overrides, suggest
from rlpipe.search.trial import (
    OBJECTIVE_COLUMNS,
    Objective,
    TrialCommand,
    finished_value,
    logged_values,
    spec_hash_of,
)
from rlpipe.spec import ResolvedSpec

PrunerName = Literal["median", "hyperband", "none"]
STUDY_FILE = "study.db"
SETTINGS_ATTR = "rlpipe_search"
# Settings that define what a search measures; a resume must not change them.
FIXED_SETTINGS = ("family", "spec", "space", "overrides", "seeds", "objective")


@dataclass(frozen=True)
class SearchSettings:
    """What a search measures and how it samples; stored in the study."""

    family: str
    spec: str
    space_file: str
    space: str  # the space file's text
    overrides: tuple[str, ...]
    seeds: int
    objective: Objective
    pruner: PrunerName
    startup_trials: int
    warmup_frames: int
    seed: int
    max_frame: int
    log_interval: int
    base_seed: int
    spec_hash: str = ""  # of the spec with the search's -s and seeds; "" in older studies


@dataclass(frozen=True)
class SearchOptions:
    """Where and how a search runs; free to change between resumes."""

    name: str
    trials: int
    root: Path = Path("searches")
    storage: str | None = None  # None: sqlite study file in the search folder
    resume: bool = False
    parallel: int | None = None  # trials at once; None: 1 here, what fits on Ray
    workers: int = 1
    device: str = "auto"
    pipelines: Path = Path("pipelines")
    poll_s: float = 1.0

    @property
    def folder(self) -> Path:
        """searches/<name>/."""
        return self.root / self.name


@dataclass(frozen=True)
class SearchEvent:
    """A trial started, logged a value, or ended (for progress display)."""

    kind: Literal["start", "value", "end"]
    trial: int
    frame: int | None = None
    value: float | None = None
    state: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


class TrialFailed(Exception):
    """A trial's training failed; the trial is recorded as failed and the search goes on."""


def settings_for(
    resolved: ResolvedSpec,
    space: SearchSpace,
    overrides: tuple[str, ...],
    seeds: int,
    objective: Objective,
    pruner: PrunerName,
    startup_trials: int,
    warmup_frames: int,
    seed: int,
) -> SearchSettings:
    """The settings of a search over a resolved spec (with the search's -s applied)."""
    spec = resolved.spec
    return SearchSettings(
        family=spec.family,
        spec=spec.name,
        space_file=str(space.path),
        space=space.text,
        overrides=overrides,
        seeds=seeds,
        objective=objective,
        pruner=pruner,
        startup_trials=startup_trials,
        warmup_frames=warmup_frames,
        seed=seed,
        max_frame=spec.env.max_frame,
        log_interval=spec.meta.log_interval,
        base_seed=spec.meta.base_seed,
        spec_hash=resolved.spec_hash,
    )


def storage_url(options: SearchOptions) -> str:
    """The Optuna storage: --storage, or sqlite:///searches/<name>/study.db."""
    if options.storage:
        return options.storage
    return f"sqlite:///{(options.folder / STUDY_FILE).resolve()}"


RDB_SCHEMES = ("sqlite", "postgresql", "mysql")
"""Database storages --storage takes (with any SQLAlchemy driver suffix, e.g. postgresql+psycopg2)."""


def _storage(url: str) -> Any:
    """Optuna's storage for --storage, or an RlpipeError that says what is wrong with it."""
    if "://" in url:
        return _database(url)
    return _journal(Path(url))


def _database(url: str) -> Any:
    import optuna

    scheme, _, rest = url.partition("://")
    if scheme.split("+")[0] not in RDB_SCHEMES:
        raise RlpipeError(
            f"--storage {url}: unknown database '{scheme}'; use sqlite:///PATH, "
            "postgresql://..., mysql://... or a journal file path"
        )
    if scheme == "sqlite":
        path = rest.removeprefix("/")
        if not path or path == ":memory:":
            raise RlpipeError(
                f"--storage {url} is an in-memory database: the search could not be resumed; "
                "give a file, sqlite:///searches/NAME/study.db"
            )
        if not Path(path).parent.is_dir():
            raise RlpipeError(f"--storage {url}: the folder {Path(path).parent} does not exist")
    try:
        return optuna.storages.RDBStorage(url)
    except ImportError as error:
        raise RlpipeError(
            f"--storage {url}: the database driver is not installed ({error.name or error}); "
            "install it (e.g. pip install psycopg2-binary for postgresql)"
        ) from None
    except Exception as error:  # SQLAlchemy's errors: unreachable server, bad URL, permissions
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RlpipeError(f"--storage {url}: cannot open the database ({reason})") from None


def _journal(path: Path) -> Any:
    """A journal file, Optuna's storage for a shared filesystem; never a user's other file."""
    import optuna
    import optuna.storages.journal

    if not path.parent.is_dir():
        raise RlpipeError(f"--storage {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise RlpipeError(f"--storage {path} is a folder; give a journal file path")
    if path.exists() and path.stat().st_size and not _is_journal(path):
        raise RlpipeError(
            f"--storage {path} is a file but not an Optuna journal: it is left as it is; "
            "give a new path or an existing search's journal"
        )
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return optuna.storages.journal.JournalStorage(backend)


def _is_journal(path: Path) -> bool:
    """Whether a file's first line is an Optuna journal record (JSON with an op_code)."""
    try:
        with path.open("rb") as file:
            first = json.loads(file.readline().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(first, dict) and "op_code" in first


def _pruner(settings: SearchSettings) -> Any:
    import optuna

    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=settings.startup_trials, n_warmup_steps=settings.warmup_frames
        )
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(settings.warmup_frames, settings.log_interval),
            max_resource=settings.max_frame,
        )
    return optuna.pruners.NopPruner()


def _sampler(settings: SearchSettings, finished_before: int) -> Any:
    """TPE seeded by the search seed and the number of trials already in the study, so a
    resumed search does not redraw the values its first trials already tried."""
    import optuna

    seed = int(np.random.SeedSequence([settings.seed, finished_before]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=settings.startup_trials)


def _driver() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _driver_is_dead(driver: Any) -> bool:
    """Whether the search process that ran a trial has gone (only decidable on its host)."""
    if not isinstance(driver, dict) or driver.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(driver["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def open_study(settings: SearchSettings, options: SearchOptions, pruner: Any = None) -> Any:
    """Create the study, or with --resume load it, check its settings and re-queue the
    trials that were cut off when the search stopped."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(options)
    if options.storage is None:
        try:
            options.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RlpipeError(
                f"cannot make the search folder {options.folder}: {error.strerror or error}"
            ) from None
    storage = _storage(url)
    exists = options.name in optuna.get_all_study_names(storage)
    if exists and not options.resume:
        raise RlpipeError(
            f"search '{options.name}' already exists in {url}: continue it with --resume, "
            "or give a new --name"
        )
    if options.resume and not exists:
        raise RlpipeError(f"--resume: no search '{options.name}' in {url} to resume")
    trials_before = 0
    if exists:
        loaded = optuna.load_study(study_name=options.name, storage=storage)
        _check_settings(loaded.user_attrs.get(SETTINGS_ATTR, {}), settings, options.name)
        trials_before = len(loaded.trials)
    study = optuna.create_study(
        storage=storage,
        study_name=options.name,
        direction="maximize",
        sampler=_sampler(settings, trials_before),
        pruner=pruner or _pruner(settings),
        load_if_exists=exists,
    )
    if not exists:
        study.set_user_attr(SETTINGS_ATTR, asdict(settings))
    else:
        requeue_interrupted(study)
    return study


def _check_settings(saved: dict[str, Any], settings: SearchSettings, name: str) -> None:
    current = asdict(settings)
    changed = [
        key for key in FIXED_SETTINGS if _comparable(saved.get(key)) != _comparable(current[key])
    ]
    if changed:
        detail = "; ".join(f"{k}: was {saved.get(k)!r}, now {current[k]!r}" for k in changed)
        raise RlpipeError(
            f"--resume: search '{name}' was started with other settings ({detail}); resume "
            "with the same family, spec, space file, -s settings, seeds and objective"
        )
    was = saved.get("spec_hash")
    if was and was != settings.spec_hash:
        raise RlpipeError(
            f"--resume: the spec {settings.family}/{settings.spec} changed since search '{name}' "
            f"started (spec hash {was[:12]}, now {settings.spec_hash[:12]}): new trials would "
            "train another spec than the trials they are ranked against; restore the pipeline "
            "file, or start a new search with --name"
        )


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def requeue_interrupted(study: Any) -> list[int]:
    """Mark trials cut off by a stopped search as failed, and queue their values again.

    A trial still RUNNING whose search process is gone (killed) is set to FAIL with the user
    attribute `interrupted`; a trial failed by Ctrl-C carries it already. Each such trial's
    values are enqueued once (the new trial records `retry_of`), so they run again, under a
    new trial number and folder; finished trials are never re-run.
    """
    from optuna.trial import TrialState

    retried = {t.user_attrs.get("retry_of") for t in study.get_trials(deepcopy=False)}
    requeued = []
    for trial in study.get_trials(deepcopy=False):
        stale = trial.state == TrialState.RUNNING and _driver_is_dead(
            trial.user_attrs.get("driver")
        )
        if stale:  # Optuna's public API only sets attributes of trials this process runs
            study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            study.tell(trial.number, state=TrialState.FAIL)
        interrupted = stale or (
            trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted")
        )
        if interrupted and trial.number not in retried:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            requeued.append(trial.number)
    return requeued


def counted_trials(study: Any) -> int:
    """Trials that count towards --trials: finished ones, except those cut off by a stop."""
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sum(
        1
        for t in study.get_trials(deepcopy=False, states=done)
        if not t.user_attrs.get("interrupted")
    )


class TrialObjective:
    """Optuna's objective: train one trial with `rlpipe train`, report its logged values
    to the pruner, stop it when pruned, and return its score (or eval return)."""

    def __init__(
        self,
        settings: SearchSettings,
        options: SearchOptions,
        space: SearchSpace,
        runner: Runner,
        resources: Resources,
        report: Callable[[SearchEvent], None],
    ) -> None:
        self.settings, self.options, self.space = settings, options, space
        self.runner, self.resources, self.report = runner, resources, report
        self.cwd = str(Path.cwd())
        self.lock = threading.Lock()  # parallel trials report from Optuna's worker threads
        # Set on Ctrl-C/SIGTERM: trials in Optuna's worker threads never see the main thread's
        # KeyboardInterrupt, and Optuna waits for them before it lets it through.
        self.stop = threading.Event()

    def __call__(self, trial: Any) -> float:
        """Train and score one trial."""
        import optuna

        settings, options = self.settings, self.options
        values = suggest(trial, self.space)
        run_dir = options.folder / f"trial-{trial.number}"
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("driver", _driver())
        command = TrialCommand(
            settings.family,
            settings.spec,
            (*settings.overrides, *as_overrides(values)),
            settings.seeds,
            options.workers,
            options.device,
            options.pipelines,
            run_dir,
        )
        self._emit(SearchEvent("start", trial.number, params=values))
        running = self.runner.start(command.argv(), self.cwd, self.resources)
        seeds = [settings.base_seed + k for k in range(settings.seeds)]
        column = OBJECTIVE_COLUMNS[settings.objective]
        reported: set[int] = set()
        result = None
        try:
            while result is None:
                if self.stop.is_set():
                    raise KeyboardInterrupt
                result = running.poll()
                for frame, value in logged_values(run_dir, seeds, column):
                    if frame in reported:
                        continue
                    reported.add(frame)
                    trial.report(value, frame)
                    trial.set_user_attr("frames", frame)
                    self._emit(SearchEvent("value", trial.number, frame, value))
                    # A trial at its last row has its score: let it finish rather than prune.
                    last_row = frame >= settings.max_frame
                    if result is None and not last_row and trial.should_prune():
                        running.stop()
                        result = self._wait(running)
                        self._emit(SearchEvent("end", trial.number, frame, value, "PRUNED"))
                        raise optuna.TrialPruned(f"pruned at frame {frame}: {value:.1f}")
                if result is None:
                    time.sleep(options.poll_s)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        finally:
            if result is None:
                running.stop()
                self._wait(running)
        return self._score(trial, run_dir, result)

    def _wait(self, running: Any) -> Any:
        while (result := running.poll()) is None:
            time.sleep(0.2)
        return result

    def _score(self, trial: Any, run_dir: Path, result: Any) -> float:
        if result.returncode != 0:
            message = f"rlpipe train exited with code {result.returncode} on {result.host}"
            error = f"{message}: {result.output_tail}"
            trial.set_user_attr("error", error[-2000:])
            self._emit(SearchEvent("end", trial.number, state="FAIL"))
            raise TrialFailed(error)
        value, summary = finished_value(run_dir, self.settings.objective)
        trial.set_user_attr("frames", summary.get("frames"))
        trial.set_user_attr("wall_s", summary.get("wall_s"))
        trial.set_user_attr("spec_hash", spec_hash_of(run_dir))
        if value is None:
            error = (
                f"{run_dir}: no {self.settings.objective} (no training episode finished, or no "
                "evaluation ran); give the trials more frames"
            )
            trial.set_user_attr("error", error)
            self._emit(SearchEvent("end", trial.number, state="FAIL"))
            raise TrialFailed(error)
        self._emit(SearchEvent("end", trial.number, summary.get("frames"), value, "COMPLETE"))
        return float(value)

    def _emit(self, event: SearchEvent) -> None:
        with self.lock:
            self.report(event)
