"""The benchmark suite as data: params/suite.yaml, validated."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator

from rlpipe.errors import RlpipeError
from rlpipe.spec.load import _NAME as NAME_RULE  # the rule pipeline and spec names follow
from rlpipe.spec.schema import Float, PositiveInt, Spec, StrictModel
from rlpipe.spec.yaml12 import read_yaml_file

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

DEFAULT_SUITE = Path("params/suite.yaml")


def _plain_name(value: str) -> str:
    """Names go into stage commands and paths: the rule of pipeline and spec names."""
    if not NAME_RULE.match(value):
        raise ValueError(
            f"{value!r}: use letters, digits, '-' and '_' only, starting with a letter or digit "
            "(no '/', '..', spaces, quotes or shell characters)"
        )
    return value


Name = Annotated[str, AfterValidator(_plain_name)]
Device = Annotated[
    str,
    Field(
        pattern=r"^(auto|cpu|cuda|cuda:[0-9]+)$",
        description="Device the suite trains on: auto, cpu, cuda or cuda:N (as rlpipe train).",
    ),
]
HubRepo = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Hugging Face dataset repo id that publish uploads to (owner/name).",
    ),
]
CATEGORIES = ("classic", "box2d", "mujoco", "atari")


class SuiteEnv(StrictModel):
    """One benchmark env: its category, the score that counts as solved, the frame budget."""

    id: str = Field(description="gymnasium env id, e.g. CartPole-v1.")
    category: Literal["classic", "box2d", "mujoco", "atari"] = Field(
        description="Report section the env is listed in."
    )
    target: Float = Field(description="Score at or above which the env counts as solved.")
    budget: PositiveInt = Field(description="Most env frames a run of this env may use.")


class SuiteRun(StrictModel):
    """One (algorithm family, spec) pair to train, by rlpipe or by a peer library; its key names
    the run folder."""

    family: Name = Field(description="Pipeline family, e.g. crossq.")
    spec: Name = Field(description="Spec name in the family; also the key into `envs`.")
    frames: PositiveInt = Field(description="Env frames to train (max_frame override).")
    seed_groups: PositiveInt = Field(
        1,
        description="Train the seeds as this many DVC stages (contiguous groups of seeds), so "
        "that no stage runs longer than a machine can give it; the run folder, summary, report "
        "and audit treat the groups as one entry.",
    )
    peer: Literal["sb3"] | None = Field(
        None,
        description="Train the peer library's own implementation instead, set up as the spec "
        "(sb3: Stable-Baselines3 / sb3-contrib), for a parity row beside rlpipe's.",
    )
    stage_frames: PositiveInt | None = Field(
        None,
        description="Train the run (each seed group) as a chain of DVC stages of this many "
        "frames each: every stage resumes the previous one's checkpoint, so that a run longer "
        "than a machine gives one stage still trains; the last stage writes the run folder.",
    )

    eval_per_group: bool = Field(
        False,
        description="Evaluate each seed group as its own DVC stage, right after it trains, and "
        "merge the groups' evaluations into the run's: a run whose groups train in different "
        "sessions, on machines that do not keep each other's weights, still gets evaluated. "
        "Needs seed_groups above 1.",
    )

    off_schedule: bool = Field(
        False,
        description="Train for other frames than the spec's schedule_frames, deliberately: the "
        "schedules keep their horizons in frames (an annealed learning rate then stops short of "
        "0, or sits at 0 for the rest of the run). Without it such an entry is refused.",
    )

    def key(self) -> str:
        """The run key this entry must have: <family>-<spec>, or <family>-<spec>-<peer>."""
        return "-".join(part for part in (self.family, self.spec, self.peer) if part)


class Suite(StrictModel):
    """Which runs make up the benchmark tables, how many seeds, where they are published."""

    hub_repo: HubRepo
    seeds: PositiveInt = Field(description="Seeds per run.")
    device: Device = "cpu"
    envs: dict[Name, SuiteEnv] = Field(description="Benchmark envs, keyed by spec name.")
    runs: dict[Name, SuiteRun] = Field(description="Runs keyed by run folder name.")
    replays: bool = Field(
        False,
        description="Make a short replay GIF of each run from its weights (a DVC stage per "
        "run, needs the weights: dvc pull) and show it in BENCHMARKS.md.",
    )

    @model_validator(mode="after")
    def _runs_name_known_envs(self) -> Suite:
        for key, run in self.runs.items():
            if run.seed_groups > self.seeds:
                raise ValueError(
                    f"runs.{key}: seed_groups {run.seed_groups} is more than the {self.seeds} seeds"
                )
            if run.spec not in self.envs:
                raise ValueError(f"runs.{key}: spec '{run.spec}' has no entry in envs")
            if key != run.key():
                raise ValueError(f"runs.{key}: the key must be '{run.key()}'")
            if run.stage_frames is not None and run.stage_frames >= run.frames:
                raise ValueError(
                    f"runs.{key}: stage_frames {run.stage_frames} must be below frames "
                    f"{run.frames} (one stage trains the whole run without it)"
                )
            if run.eval_per_group and run.seed_groups == 1:
                raise ValueError(
                    f"runs.{key}: eval_per_group evaluates seed groups; set seed_groups above 1"
                )
            if run.eval_per_group and self.replays:
                raise ValueError(
                    f"runs.{key}: eval_per_group lets the seed groups train on different "
                    "machines, but a replay GIF (replays: true) needs the run's weights on one; "
                    "drop one of the two"
                )
            if run.stage_frames is not None and run.peer is not None:
                raise ValueError(
                    f"runs.{key}: stage_frames chains rlpipe's own training; a peer run trains in "
                    "one stage"
                )
        return self

    def overrides(self, key: str) -> list[str]:
        """The -s overrides a suite run is trained with: the run's length (env.max_frame, not the
        pipeline's max_frame var, which may also set the frames its schedules are tuned for) and
        the seeds."""
        return [f"env.max_frame={self.runs[key].frames}", f"meta.seeds={self.seeds}"]

    def check_schedule(self, key: str, spec: Spec) -> None:
        """Raise RlpipeError if the entry trains the spec for other frames than its schedules
        were tuned for (schedule_frames) without saying so (off_schedule)."""
        run = self.runs[key]
        tuned = getattr(spec.algorithm, "schedule_frames", None)
        if tuned is None or tuned == run.frames or run.off_schedule:
            return
        horizons = "; ".join(
            f"{name} at frame {frame:,.0f}" for name, frame in spec.algorithm.horizons().items()
        )
        raise RlpipeError(
            f"runs.{key}: trains {run.frames:,} frames, but spec {run.family}/{run.spec} is tuned "
            f"for schedule_frames {tuned:,} ({horizons}). Train {tuned:,} frames, or add "
            "'off_schedule: true' to the entry to keep the schedules where they are, deliberately"
        )


def load_suite(path: Path = DEFAULT_SUITE) -> Suite:
    """Read and validate a suite file."""
    if not path.is_file():
        raise RlpipeError(f"no suite file at {path}")
    raw = read_yaml_file(path)
    try:
        return Suite.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'suite'}: {_problem(e)}" for e in exc.errors()
        )
        raise RlpipeError(f"{path}: {problems}") from None


def _problem(error: ErrorDetails) -> str:
    """What is wrong at one key; an unknown key gets the closest valid one and the list."""
    if error["type"] != "extra_forbidden":
        return error["msg"].removeprefix("Value error, ")
    *inside, key = (str(part) for part in error["loc"])
    holder: type[BaseModel] = Suite
    for part in inside:  # a part that is no field is a run or env name (a dict key)
        field = holder.model_fields.get(part)
        if field is not None:
            models = [a for a in get_args(field.annotation) if isinstance(a, type)]
            holder = next((m for m in models if issubclass(m, BaseModel)), holder)
    valid = sorted(holder.model_fields)
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"did you mean '{match[0]}'? " if match else ""
    return f"unknown key; {hint}valid keys: {', '.join(valid)}"
