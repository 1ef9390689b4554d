"""The suite as DVC stages: dvc.yaml generated from params/suite.yaml, and what DVC says is stale.

dvc.yaml is generated (`rlpipe suite stages`) rather than templated with `foreach`, because a
suite entry may be split into seed groups, each its own stage with its own seed folders as
outputs, and DVC's templating cannot list a varying number of outputs per stage.

Each stage depends on the code that determines its outputs, derived from the import graph
(rlpipe/codedeps.py) rather than kept by hand: a train stage on what its own algorithm's training
imports (the loops, the spec code, the envs, buffers, the fast path and its agent's module, which
the registry imports by name), so editing rlpipe/algos/dqn.py makes only DQN's rows stale and
editing the shared loop makes every row stale; less BOOKKEEPING (file names, locks, provenance,
messages). It also depends on its own parts of the pipeline file (vars, defaults,
specs.<spec>) as DVC params and on the command line that holds the suite's frames, seeds and
device; so editing one spec retrains only its runs, and editing the report, audit, Hub, CLI or
bench code retrains nothing.

Train and eval stages reach their code through a fingerprint (rlpipe/fingerprint.py): one cheap
`code-<set>` stage per code set (train-crossq, eval-sb3, ...) depends on the source files and
writes fingerprints/<set>.json, and the stages that use the set depend on that file. An edit that
changes only docstrings, comments or type annotations re-runs the code stage, whose output is
unchanged, so nothing re-trains; any other edit changes the fingerprint and makes the stages stale.

A suite entry with a peer trains the peer library's twin of the spec (`rlpipe train --peer`). Its
numbers come from the peer's code, so its stage depends on what the twin's training imports
(PEER_ROOTS), not on rlpipe's agent modules. The peer library lives outside the repository, where
no DVC dependency can follow it portably, so its exact installed versions are written into the
command (`--peer-version sb3-contrib==2.9.2`): after an upgrade `rlpipe suite stages` writes
another command, so DVC (and `rlpipe audit`, as stale-stage) sees the stage changed, and until then
the stage refuses to train with a version other than the one it names.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import Any

import yaml

import rlpipe
from rlpipe.algos.registry import algorithm
from rlpipe.codedeps import imported_files
from rlpipe.errors import RlpipeError
from rlpipe.fingerprint import FORMAT as FINGERPRINT_FORMAT
from rlpipe.rundir import RunFolder, group_name
from rlpipe.spec import DEFAULT_SUITE, ResolvedSpec, Suite, resolve_spec
from rlpipe.spec.suite import SuiteRun
from rlpipe.train_command import train_argv

DVC_FILE = "dvc.yaml"
REPLAYS_DIR = "reports/replays"
SPEC_CODE = ("rlpipe.spec.load",)
"""Spec loading and validation: every stage that resolves a spec runs it."""
TRAIN_ROOTS = ("rlpipe.loops", *SPEC_CODE)
"""Where a training seed starts (`rlpipe.loops.train_seed`); its algorithm's agent module, which
the registry imports by name, is added per stage."""
PEER_ROOTS = ("rlpipe.peers.train", "rlpipe.peers.sb3", *SPEC_CODE)
PEER_POLICY = "rlpipe.peers.evaluate"
"""The module rlpipe/policy.py imports by name for a parity run's policy (a dependency the import
graph cannot see)."""
"""Where a peer (parity) seed trains and is evaluated: the twin, not rlpipe's agent modules."""
EVAL_ROOTS = ("rlpipe.evaluation", *SPEC_CODE)
GROUP_EVAL_CODE = "rlpipe/group_eval.py"
"""How a seed group is evaluated alone and the groups' evaluations merged (suite runs with
`eval_per_group`); the evaluation itself is the eval code set's."""
REPLAY_ROOTS = ("rlpipe.watch.enjoy", *SPEC_CODE)
SUMMARIZE_ROOTS = ("rlpipe.group_summary",)
PLOT_ROOTS = ("rlpipe.report.plots",)
REPORT_ROOTS = ("rlpipe.report.benchmarks",)
BOOKKEEPING = (
    "rlpipe/__init__.py",
    "rlpipe/errors.py",
    "rlpipe/profiling.py",
    "rlpipe/rundir/atomic.py",
    "rlpipe/rundir/folder.py",
    "rlpipe/rundir/lock.py",
    "rlpipe/rundir/provenance.py",
    "rlpipe/spec/suite.py",
)
"""Modules that training imports but whose job is file names, atomic writes, the run-folder
lock, provenance records, the version string, error messages, --profile timings and the suite
file: none computes a number a run reports, so editing them retrains nothing (as before stage dependencies were
derived, when a hand-kept list left them out too)."""


def code_deps(*roots: str) -> list[str]:
    """A stage's code dependencies: the rlpipe source files its roots import, less BOOKKEEPING.

    Read from the source of the rlpipe that is running (a project's copy of it is identical),
    as paths relative to the project root, where DVC hashes them."""
    return [path for path in imported_files(roots, SOURCE_ROOT) if path not in BOOKKEEPING]


def agent_module(algorithm_name: str) -> str:
    """The module of an algorithm's agent class, which the registry imports by name."""
    return algorithm(algorithm_name).agent.partition(":")[0]


RANDOM_SCORES_FILE = "references/random_scores.csv"
"""The random-policy returns that the aggregate normalises with (plot and report read it)."""
SOURCE_ROOT = Path(rlpipe.__file__).resolve().parent.parent
HEADER = (
    "# Generated by `rlpipe suite stages` from {suite}; do not edit by hand: edit the suite file\n"
    "# and run `rlpipe suite stages` (rlpipe audit fails while this file is out of date).\n"
)


FINGERPRINTS_DIR = "fingerprints"
"""The code fingerprints (rlpipe/fingerprint.py) that train and eval stages depend on."""
FINGERPRINT_CODE = "rlpipe/fingerprint.py"
PARTS_DIR = "parts"
"""Where the earlier stages of a chain (suite `stage_frames`) leave their paused runs, with
checkpoints, in the DVC cache: parts/<run>[/seeds-A-B]/part-<i>."""


@dataclass(frozen=True)
class TrainStage:
    """One train stage: a suite run or one seed group of it, or one part of its chain."""

    name: str
    run: str  # the suite run key (runs/<run>)
    seeds: tuple[int, ...] | None  # None: every seed, one stage for the whole run
    part: int = 1  # its place in the chain of stages that trains the run (or group)
    parts: int = 1  # stages in that chain: 1 without stage_frames
    until: int | None = None  # the frame this part pauses at (None: the last part)

    @property
    def last(self) -> bool:
        """Whether this stage finishes the run (or group) and writes its run folder."""
        return self.part == self.parts

    def part_folder(self, part: int) -> str:
        """Where part `part` of this stage's chain leaves its paused run."""
        group = [group_name(self.seeds)] if self.seeds else []
        return "/".join([PARTS_DIR, self.run, *group, f"part-{part}"])


def run_folder(key: str) -> RunFolder:
    """The run folder of a suite run, with its weights in artifacts/ (the DVC cache)."""
    return RunFolder(Path("runs") / key, Path("artifacts") / key)


def _posix(path: Path) -> str:
    return path.as_posix()


def seed_groups(seeds: list[int], groups: int) -> list[tuple[int, ...]]:
    """The seeds split into `groups` contiguous groups, as even as possible (earlier ones larger)."""
    if groups > len(seeds):
        raise RlpipeError(f"cannot split {len(seeds)} seeds into {groups} seed groups")
    size, extra = divmod(len(seeds), groups)
    out, start = [], 0
    for index in range(groups):
        end = start + size + (1 if index < extra else 0)
        out.append(tuple(seeds[start:end]))
        start = end
    return out


def resolved_run(suite: Suite, key: str, pipelines: Path = Path("pipelines")) -> ResolvedSpec:
    """A suite run's resolved spec. Writing or checking dvc.yaml asks for each run's spec a few
    times per stage (384 times for the CPU tier, 14 s of YAML parsing in `rlpipe audit`): the
    answer is kept while the pipeline file's bytes are the same."""
    run = suite.runs[key]
    try:
        content = hashlib.sha256((pipelines / f"{run.family}.yaml").read_bytes()).hexdigest()
    except OSError:
        content = ""  # resolve_spec raises what is wrong (an error is never kept)
    return _resolve(run.family, run.spec, tuple(suite.overrides(key)), pipelines, content)


@functools.lru_cache(maxsize=512)
def _resolve(
    family: str, name: str, overrides: tuple[str, ...], pipelines: Path, content: str
) -> ResolvedSpec:
    return resolve_spec(family, name, overrides, pipelines)


def seed_list(suite: Suite, key: str, pipelines: Path = Path("pipelines")) -> list[int]:
    """The seeds a suite run trains, as its resolved spec lists them."""
    return resolved_run(suite, key, pipelines).spec.meta.seed_list


def train_stages(suite: Suite, pipelines: Path = Path("pipelines")) -> list[TrainStage]:
    """Every train stage of the suite, in suite order; a chain's parts in their order."""
    stages = []
    for key, run in suite.runs.items():
        groups: list[tuple[int, ...] | None] = [None]
        if run.seed_groups > 1:
            groups = list(seed_groups(seed_list(suite, key, pipelines), run.seed_groups))
        step = run.stage_frames or run.frames
        parts = -(-run.frames // step)
        for group in groups:
            base = "-".join(["train", key, *(["seeds", *map(str, group)] if group else [])])
            for part in range(1, parts + 1):
                name = base if part == parts else f"{base}-part-{part}"
                until = None if part == parts else part * step
                stages.append(TrainStage(name, key, group, part, parts, until))
    return stages


def _peer_pins(suite: Suite, key: str, pipelines: Path) -> list[str]:
    """The installed versions of a peer run's libraries (--peer-version); a spec the peer cannot
    mirror is an error naming the suite entry and the field."""
    from rlpipe.peers.mirror import sb3_unsupported, version_pins

    run = suite.runs[key]
    spec = resolved_run(suite, key, pipelines).spec
    why = sb3_unsupported(spec)
    if why is not None:
        raise RlpipeError(f"runs.{key}: peer {run.peer} cannot mirror the spec: {why}")
    return list(version_pins(spec))


def _algorithm_name(suite: Suite, key: str, pipelines: Path) -> str:
    return resolved_run(suite, key, pipelines).spec.algorithm.name


def train_code_name(suite: Suite, key: str, pipelines: Path = Path("pipelines")) -> str:
    """The name of a run's train code set: its algorithm's, or its peer's (one set per peer)."""
    run = suite.runs[key]
    return f"train-{run.peer or _algorithm_name(suite, key, pipelines)}"


def eval_code_name(suite: Suite, key: str, pipelines: Path = Path("pipelines")) -> str:
    """The name of a run's eval code set: its algorithm's, or its peer's."""
    run = suite.runs[key]
    return f"eval-{run.peer or _algorithm_name(suite, key, pipelines)}"


def fingerprint_file(code_name: str) -> str:
    """Where a code set's fingerprint lives (the dependency its stages have on their code)."""
    return f"{FINGERPRINTS_DIR}/{code_name}.json"


def _fingerprint_stage(code: list[str], code_name: str) -> dict[str, Any]:
    """The stage that fingerprints a code set (rlpipe/fingerprint.py): cheap, and re-run on any
    edit to the set; the stages downstream re-run only when its output changes."""
    out = fingerprint_file(code_name)
    files = " ".join(quote(path) for path in code)
    return {
        "cmd": f"rlpipe suite fingerprint --out {quote(out)} {files}",
        "deps": [FINGERPRINT_CODE, *code],
        "outs": [{out: {"cache": False}}],
    }


def code_sets(suite: Suite, pipelines: Path = Path("pipelines")) -> dict[str, list[str]]:
    """Every code set the suite's train and eval stages use, {name: source files}, in the order
    of the suite's runs."""
    sets: dict[str, list[str]] = {}
    for key in suite.runs:
        for name, code in (
            (train_code_name(suite, key, pipelines), train_code),
            (eval_code_name(suite, key, pipelines), eval_code),
        ):
            if name not in sets:
                sets[name] = code(suite, key, pipelines)
    return sets


def fingerprint_drift(
    suite: Suite, root: Path, pipelines: Path = Path("pipelines")
) -> dict[str, list[str]]:
    """The code sets whose source no longer gives their committed fingerprint, each with the
    files that changed what they do (every file when the fingerprint file is missing or
    unreadable). Read from the sources, without DVC: a code stage not yet re-run still shows."""
    from rlpipe.fingerprint import digests

    drift: dict[str, list[str]] = {}
    for code_name, files in code_sets(suite, pipelines).items():
        recorded = _recorded_fingerprint(root / fingerprint_file(code_name))
        current = digests(files, root)
        changed = sorted(
            path for path in set(current) | set(recorded) if recorded.get(path) != current.get(path)
        )
        if changed:
            drift[code_name] = changed
    return drift


def _recorded_fingerprint(path: Path) -> dict[str, str]:
    """{file: digest} of a fingerprint file; {} when it is missing, unreadable or of another
    format (every file then counts as changed)."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or saved.get("format") != FINGERPRINT_FORMAT:
        return {}
    files = saved.get("files")
    return files if isinstance(files, dict) else {}


def train_code(suite: Suite, key: str, pipelines: Path = Path("pipelines")) -> list[str]:
    """The code a suite run's train stages depend on: what its algorithm's training imports (the
    peer twin's, for a parity run)."""
    if suite.runs[key].peer:
        return code_deps(*PEER_ROOTS)
    return code_deps(*TRAIN_ROOTS, agent_module(_algorithm_name(suite, key, pipelines)))


def _train_stage(
    suite: Suite, stage: TrainStage, pipelines: Path, code: list[str]
) -> dict[str, Any]:
    """A train stage; `code` is what it depends on for its code (its code set's fingerprint)."""
    run = suite.runs[stage.run]
    key = stage.run
    previous = stage.part_folder(stage.part - 1) if stage.part > 1 else None
    out = f"runs/{key}" if stage.last else stage.part_folder(stage.part)
    argv = train_argv(
        run.family, run.spec, suite.overrides(key), device=suite.device,
        peer=str(run.peer) if run.peer else None,
        peer_versions=_peer_pins(suite, key, pipelines) if run.peer else (),
        resume_from=previous, out=out, artifacts=f"artifacts/{key}" if stage.last else None,
        overwrite=True, quiet=True, until_frame=None if stage.last else stage.until,
        only_seeds=stage.seeds,
    )  # fmt: skip
    command = " ".join(quote(word) for word in argv)
    deps = [*code, *([previous] if previous is not None else [])]
    if not stage.last:
        return {"cmd": command, "deps": deps, "params": _params(run), "outs": [out]}
    folder = run_folder(key)
    if stage.seeds is None:
        outs: list[Any] = [{_posix(folder.path): {"cache": False}}, _posix(folder.artifacts)]
    else:
        seeds = [folder.seed(s) for s in stage.seeds]
        outs = [
            *({_posix(seed.path): {"cache": False}} for seed in seeds),
            {_posix(folder.group_file(stage.seeds)): {"cache": False}},
            *(_posix(seed.artifacts) for seed in seeds),
        ]
    return {"cmd": command, "deps": deps, "params": _params(run), "outs": outs}


def _params(run: SuiteRun) -> list[dict[str, list[str]]]:
    """A run's own parts of its pipeline file, as DVC params."""
    return [{f"pipelines/{run.family}.yaml": ["vars", "defaults", f"specs.{run.spec}"]}]


def dvc_stages(
    suite: Suite, suite_path: Path, pipelines: Path = Path("pipelines")
) -> dict[str, Any]:
    """The `stages:` mapping of dvc.yaml for a suite."""
    stages: dict[str, Any] = {}
    for key in suite.runs:
        suite.check_schedule(key, resolved_run(suite, key, pipelines).spec)
    trains = train_stages(suite, pipelines)
    for name, files in code_sets(suite, pipelines).items():
        stages[f"code-{name}"] = _fingerprint_stage(files, name)
    for stage in trains:
        code = [fingerprint_file(train_code_name(suite, stage.run, pipelines))]
        stages[stage.name] = _train_stage(suite, stage, pipelines, code)
    for key, run in suite.runs.items():
        if run.seed_groups > 1:
            groups = [s for s in trains if s.run == key and s.last]
            folder = run_folder(key)
            seeds = [folder.seed(seed) for s in groups for seed in s.seeds or ()]
            stages[f"summarize-{key}"] = {
                "cmd": f"rlpipe summarize {quote(_posix(folder.path))}",
                "deps": [
                    *code_deps(*SUMMARIZE_ROOTS),
                    *(_posix(seed.path) for seed in seeds),
                    *(_posix(folder.group_file(s.seeds or ())) for s in groups),
                ],
                "outs": [
                    {_posix(path): {"cache": False}}
                    for path in (folder.spec_file, folder.provenance_file, folder.summary_file)
                ],
            }
    run_files = {key: f"runs/{key}" for key in suite.runs}
    for key in suite.runs:
        folder = run_folder(key)
        # The weights exactly as train stages output them: a missing output (weights not
        # pulled into a fresh clone) is what `dvc repro --allow-missing` skips; a missing
        # folder that merely contains outputs would be a changed dependency.
        groups = [s.seeds for s in trains if s.run == key and s.seeds and s.last]
        weights = [_posix(folder.seed(s).artifacts) for g in groups for s in g] or [
            _posix(folder.artifacts)
        ]
        if suite.runs[key].eval_per_group:
            stages.update(_group_eval_stages(suite, key, groups, pipelines))
        else:
            stages[f"eval-{key}"] = {
                "cmd": f"rlpipe eval {quote(f'runs/{key}')} --artifacts "
                f"{quote(f'artifacts/{key}')} --output {quote(f'evals/{key}.json')}",
                "deps": [
                    fingerprint_file(eval_code_name(suite, key, pipelines)),
                    run_files[key],
                    *weights,
                ],
                "outs": [{f"evals/{key}.json": {"cache": False}}],
            }
        if suite.replays:
            code = code_deps(*REPLAY_ROOTS, _policy_module(suite, key, pipelines))
            stages[f"replay-{key}"] = _replay_stage(key, code, [run_files[key], *weights])
    suite_file = Path(suite_path).as_posix()
    stages["plot"] = {
        "cmd": f"rlpipe plot --suite {quote(suite_file)}",
        "deps": [*code_deps(*PLOT_ROOTS), *run_files.values(), suite_file, RANDOM_SCORES_FILE],
        "outs": [{"reports/plots": {"cache": False}}],
    }
    stages["report"] = {
        "cmd": f"rlpipe report --suite {quote(suite_file)}",
        "deps": [
            *code_deps(*REPORT_ROOTS),
            *run_files.values(),
            "reports/plots",
            *([REPLAYS_DIR] if suite.replays else []),
            suite_file,
            "references/slm_lab_v5.2.csv",
            "references/rl_zoo_benchmark.csv",
            "references/crossq_reruns_v4.csv",
            RANDOM_SCORES_FILE,
        ],
        "outs": [
            {"reports/BENCHMARKS.md": {"cache": False}},
            {"reports/benchmarks.json": {"cache": False}},
        ],
    }
    return stages


def _group_eval_stages(
    suite: Suite, key: str, groups: Sequence[tuple[int, ...] | None], pipelines: Path
) -> dict[str, Any]:
    """A run's eval stages with `eval_per_group`: one per seed group, on that group's folders
    and weights only, and one that merges their files into evals/<run>.json."""
    folder, stages = run_folder(key), {}
    files = []
    for seeds in groups:
        if not seeds:
            continue
        name = group_name(seeds)
        output = f"evals/{key}/{name}.json"
        files.append(output)
        only = ",".join(str(seed) for seed in seeds)
        stages[f"eval-{key}-{name}"] = {
            "cmd": f"rlpipe eval {quote(f'runs/{key}')} --artifacts {quote(f'artifacts/{key}')} "
            f"--only-seeds {only} --output {quote(output)}",
            "deps": [
                fingerprint_file(eval_code_name(suite, key, pipelines)),
                GROUP_EVAL_CODE,
                *(_posix(folder.seed(seed).path) for seed in seeds),
                _posix(folder.group_file(seeds)),
                *(_posix(folder.seed(seed).artifacts) for seed in seeds),
            ],
            "outs": [{output: {"cache": False}}],
        }
    merge = " ".join(f"--merge {quote(path)}" for path in files)
    stages[f"eval-{key}"] = {
        "cmd": f"rlpipe eval {quote(f'runs/{key}')} {merge} --output {quote(f'evals/{key}.json')}",
        "deps": [GROUP_EVAL_CODE, _posix(folder.spec_file), *files],
        "outs": [{f"evals/{key}.json": {"cache": False}}],
    }
    return stages


def eval_code(suite: Suite, key: str, pipelines: Path = Path("pipelines")) -> list[str]:
    """The code a suite run's eval stage depends on: the evaluator and the run's agent (or, for
    a parity run, the peer twin's loader)."""
    return code_deps(*EVAL_ROOTS, _policy_module(suite, key, pipelines))


def _policy_module(suite: Suite, key: str, pipelines: Path) -> str:
    """The module that holds a run's policy: its agent's, or the peer twin's loader."""
    if suite.runs[key].peer:
        return PEER_POLICY
    return agent_module(_algorithm_name(suite, key, pipelines))


def _replay_stage(key: str, code: list[str], run_data: list[str]) -> dict[str, Any]:
    """The stage that makes a run's short replay GIF for BENCHMARKS.md. `run_data` is its run
    folder and weights exactly as the eval stage depends on them, so that a fresh clone
    without the weights plans nothing with `dvc repro --allow-missing`."""
    from rlpipe.watch.video import SHORT_REPLAY_STEPS

    gif = f"{REPLAYS_DIR}/{key}.gif"
    return {
        "cmd": f"rlpipe enjoy {quote(f'runs/{key}')} --artifacts {quote(f'artifacts/{key}')} "
        f"--video {quote(gif)} "
        f"--max-steps {SHORT_REPLAY_STEPS}",
        "deps": [*code, *run_data],
        "outs": [{gif: {"cache": False}}],
    }


def render_dvc_yaml(
    suite: Suite, suite_path: Path = DEFAULT_SUITE, pipelines: Path = Path("pipelines")
) -> str:
    """The text of dvc.yaml for a suite."""
    document = {
        "stages": dvc_stages(suite, suite_path, pipelines),
        "metrics": [_posix(run_folder(key).summary_file) for key in suite.runs],
        "plots": dvc_plots(suite, pipelines),
    }
    body: str = yaml.safe_dump(document, sort_keys=False, width=100, default_flow_style=False)
    return HEADER.format(suite=Path(suite_path).as_posix()) + body


def dvc_plots(suite: Suite, pipelines: Path = Path("pipelines")) -> list[dict[str, Any]]:
    """DVC's top-level plots of a suite: per env, every seed's training-return curve of each of
    its runs (metrics.csv, frame vs return_ma), for `dvc plots show` and `dvc plots diff`."""
    plots = []
    for spec_name, env in suite.envs.items():
        curves = {
            _posix(run_folder(key).seed(seed).metrics): "return_ma"
            for key, run in suite.runs.items()
            if run.spec == spec_name
            for seed in seed_list(suite, key, pipelines)
        }
        if curves:
            plots.append({spec_name: {"title": env.id, "template": "linear", "x": "frame",
                                      "x_label": "env frames", "y_label": "training return "
                                      "(moving average)", "y": curves}})  # fmt: skip
    return plots


@dataclass(frozen=True)
class StageStatus:
    """What DVC says changed in one stage since dvc.lock recorded it."""

    stage: str
    changed_code: tuple[str, ...]  # code deps, params and the command that changed
    changed_outputs: tuple[tuple[str, str], ...]  # (output, state) that differ from dvc.lock
    never_ran: bool = False  # dvc.lock has no entry for the stage; the fields above are empty


DATA_DIRS = ("runs", "artifacts", "evals", "reports", PARTS_DIR)
CACHED_DIRS = ("artifacts", PARTS_DIR)
"""Where stages write outputs that live only in the DVC cache (weights, checkpoints)."""
MISSING_DATA = ("not in cache", "deleted")
"""States of cached outputs that only mean "weights not fetched" (a fresh clone)."""


def _describe(path: str, state: Any) -> list[str]:
    if isinstance(state, dict):  # params: {key: state}
        return [f"{path} {key} {value}" for key, value in state.items()]
    return [f"{path} {state}"]


def require_current_dvc_yaml(root: Path, suite: Suite, suite_path: Path) -> None:
    """Refuse a dvc.yaml that is not the one the suite file gives now: its stage commands hold
    the suite's frames, seeds and device, so DVC would plan (and train) the old suite."""
    written = root / DVC_FILE
    if not written.is_file() or written.read_text(encoding="utf-8") != render_dvc_yaml(
        suite, suite_path, Path("pipelines")
    ):
        raise RlpipeError(f"{DVC_FILE} is out of date with {suite_path}: run rlpipe suite stages")


def locked_stages(root: Path) -> set[str]:
    """The stages dvc.lock records a run of (none without a dvc.lock)."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return set()
    try:
        document = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RlpipeError(f"dvc.lock is not valid YAML: {exc}") from None
    stages = document.get("stages") if isinstance(document, dict) else None
    return set(stages) if isinstance(stages, dict) else set()


def stage_status(root: Path, stages: list[str]) -> list[StageStatus]:
    """DVC's status of the named stages, read without running anything (hashes only).

    Cached outputs missing from the cache (weights not pulled in a fresh clone) are not a
    change, as `dvc repro --allow-missing` treats them; git-tracked run files that differ are.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    wanted = set(stages)
    try:
        with Repo(str(root)) as repo:
            # the whole pipeline's status, then the wanted stages: DVC rebuilds its index for
            # each target, so 120 targets took 60 s where the whole status takes 2-3 s
            status = repo.status()
    except DvcException as exc:
        raise RlpipeError(f"dvc cannot compare the stages with dvc.lock: {exc}") from None
    locked = locked_stages(root)
    found = []
    for name, changes in status.items():
        if name not in wanted:  # another stage, or one of another dvc.yaml ("dir/dvc.yaml:x")
            continue
        if name not in locked:  # DVC words it as every dep modified and every output deleted
            found.append(StageStatus(name, (), (), never_ran=True))
            continue
        code: list[str] = []
        outputs: list[tuple[str, str]] = []
        for change in changes:
            if isinstance(change, str):
                code.append(change)  # "changed command", "always changed", ...
                continue
            for path, state in change.get("changed deps", {}).items():
                if not str(path).startswith(DATA_DIRS):  # data deps are other stages' outputs
                    code += _describe(path, state)
            for path, state in change.get("changed outs", {}).items():
                if not (str(path).startswith(CACHED_DIRS) and state in MISSING_DATA):
                    outputs.append((str(path), str(state)))
        if code or outputs:
            found.append(StageStatus(name, tuple(code), tuple(outputs)))
    return found
