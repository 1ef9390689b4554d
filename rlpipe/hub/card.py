"""The model card of a published run: generated from the run folder, read back and checked.

The card is the run's README.md on the Hub: YAML metadata as the Hub reads it (library_name,
tags, a model-index with the results) plus an `rlpipe` block that states the run, its spec
hash, its numbers and the sha256 of every file published with it; then the text (results,
learning curve, replay, the commands that reproduce it, provenance, the resolved spec). Every
number comes from the run folder, so `card_differences` can re-derive the card from the run
and name what differs: `rlpipe pull` refuses such a download, `rlpipe audit --online` reports
it as card-mismatch.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shlex
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rlpipe.algos.registry import display_name
from rlpipe.errors import RlpipeError
from rlpipe.rundir import CURVE_FILE, REPLAY_FILE, RunFolder
from rlpipe.spec.yaml12 import parse_scalar, parse_yaml
from rlpipe.stats import bootstrap_ci

LIBRARY_NAME = "rlpipe"
EVAL_RTOL = 1e-5
"""How closely `rlpipe eval` of the published weights reproduces the published eval return on
the same kind of device: the same seeds, policy and env steps, summed in another order."""
MAX_CARD_FILES = 10_000
_FRONT_MATTER = re.compile(r"\A---\n(?P<yaml>.*?)\n---\n", re.S)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class CardFacts(BaseModel):
    """The `rlpipe` block of a card's metadata: which run, its numbers, its files."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    run: str
    family: str
    spec: str
    env_id: str
    spec_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    seeds: list[int]
    frames: int
    score: float | None
    score_ci95: list[float] | None
    score_iqm: float | None
    eval_return: float | None
    eval_ci95: list[float] | None
    eval_per_seed: list[float | None]
    eval_episodes_per_seed: int
    eval_rtol: float
    files: dict[str, str]


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ci(values: list[float | None]) -> list[float] | None:
    """The 95% bootstrap CI of the mean over seeds (as summary.json's score_ci95), None if any
    seed lacks a value."""
    if not values or any(value is None or not math.isfinite(value) for value in values):
        return None
    return [float(bound) for bound in bootstrap_ci([float(v) for v in values], seed=0)]  # type: ignore[arg-type]


def card_facts(run: RunFolder, run_key: str, files: Mapping[str, str]) -> CardFacts:
    """The facts a card states about a run, read from its folder; `files` maps each file
    published with it (path relative to the run folder) to its sha256."""
    saved = run.read_spec()
    summary = run.read_summary()
    eval_per_seed = [seed.eval_return for seed in summary.per_seed]
    return CardFacts(
        run=run_key,
        family=saved.spec.family,
        spec=saved.spec.name,
        env_id=saved.spec.env.id,
        spec_hash=saved.spec_hash,
        seeds=list(summary.seeds),
        frames=summary.frames,
        score=summary.score,
        score_ci95=list(summary.score_ci95) if summary.score_ci95 else None,
        score_iqm=summary.score_iqm,
        eval_return=summary.eval_return,
        eval_ci95=_ci(eval_per_seed),
        eval_per_seed=eval_per_seed,
        eval_episodes_per_seed=saved.spec.meta.eval_episodes,
        eval_rtol=EVAL_RTOL,
        files=dict(sorted(files.items())),
    )


def card_metadata(facts: CardFacts, algorithm: str) -> dict[str, Any]:
    """The card's YAML metadata as data: Hub fields, model-index and the rlpipe block."""
    from huggingface_hub import EvalResult, ModelCardData

    seeds = len(facts.seeds)
    common: dict[str, Any] = {"task_type": "reinforcement-learning", "task_name": "reinforcement-learning",
              "dataset_type": facts.env_id, "dataset_name": facts.env_id}  # fmt: skip
    results = []
    if facts.score is not None:
        score_args = {"ci95": facts.score_ci95, "iqm": facts.score_iqm, "seeds": seeds,
                      "frames": facts.frames}  # fmt: skip
        results.append(
            EvalResult(
                **common,
                metric_type="mean_reward",
                metric_name=f"score (final training-return moving average, mean of {seeds} seeds)",
                metric_value=facts.score,
                metric_args=score_args,
                verified=False,
            )
        )
    if facts.eval_return is not None:
        eval_args = {"ci95": facts.eval_ci95, "per_seed": facts.eval_per_seed,
                     "episodes_per_seed": facts.eval_episodes_per_seed, "frames": facts.frames}  # fmt: skip
        results.append(
            EvalResult(
                **common,
                metric_type="eval_return",
                metric_name=f"deterministic eval return (mean of {seeds} seeds)",
                metric_value=facts.eval_return,
                metric_args=eval_args,
                verified=False,
            )
        )
    data = ModelCardData(
        library_name=LIBRARY_NAME,
        tags=[
            "reinforcement-learning",
            "deep-reinforcement-learning",
            facts.env_id,
            algorithm,
            LIBRARY_NAME,
        ],
        model_name=f"{display_name(algorithm)} on {facts.env_id} ({facts.run})",
        eval_results=results or None,
        rlpipe=facts.model_dump(mode="json"),
    )
    return data.to_dict()


def dump_metadata(metadata: Mapping[str, Any]) -> str:
    """The metadata as block YAML that reads back the same under YAML 1.2 (rlpipe's loader)
    and YAML 1.1 (the Hub's): a string that either would read as another type is quoted."""
    import yaml

    class CardDumper(yaml.SafeDumper):
        """SafeDumper that also quotes strings YAML 1.2 reads as numbers (1e5, .5)."""

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        try:
            plain = parse_scalar(value) == value
        except RlpipeError:
            plain = False
        tag = "tag:yaml.org,2002:str"
        return dumper.represent_scalar(tag, value, style=None if plain else '"')

    CardDumper.add_representer(str, represent_str)
    return yaml.dump(
        dict(metadata), Dumper=CardDumper, sort_keys=False, allow_unicode=True, width=1000
    )


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _interval(ci: list[float] | None) -> str:
    return "" if not ci else f" [{_number(ci[0])}, {_number(ci[1])}]"


def reproduce_commands(facts: CardFacts, repo_id: str, overrides: list[str], device: str) -> str:
    """The two commands that reproduce the card's numbers: re-evaluate the published weights,
    and retrain from the spec."""
    sets = " ".join(f"-s {shlex.quote(override)}" for override in overrides)
    on_gpu = " --device cuda" if device.startswith("cuda") else ""
    return (
        f"rlpipe pull {repo_id} {facts.run} && rlpipe eval runs/{facts.run}\n"
        f"rlpipe train {facts.family} {facts.spec} {sets}{on_gpu} --out runs/{facts.run}-retrain"
    ).replace("  ", " ")


def render_card(
    facts: CardFacts,
    run: RunFolder,
    repo_id: str,
    replay: str | None,
) -> str:
    """The card's text (README.md): YAML metadata, then results, plots, commands, provenance,
    the resolved spec and the files. `replay` describes the replay GIF, None if there is none."""
    saved = run.read_spec()
    provenance = run.read_provenance()
    algorithm = str(saved.spec.algorithm.name)
    metadata = card_metadata(facts, algorithm)
    name = display_name(algorithm)
    seeds = ", ".join(str(seed) for seed in facts.seeds)
    eval_seeds = ", ".join(_number(value) for value in facts.eval_per_seed)
    device = str(provenance.get("device") or "")
    hardware = provenance.get("gpu_name") if device.startswith("cuda") else None
    hardware = hardware or provenance.get("cpu_model") or device or "—"
    provenance_rows = [
        ("rlpipe", provenance.get("rlpipe_version")),
        ("git commit", provenance.get("git_commit")),
        ("uncommitted changes", provenance.get("git_dirty")),
        ("python", provenance.get("python")),
        ("torch", provenance.get("torch")),
        ("gymnasium", provenance.get("gymnasium")),
        ("mujoco", provenance.get("mujoco")),
        ("device", f"{device} ({hardware})"),
        ("CUDA", provenance.get("cuda_version")),
        ("started", provenance.get("started_at")),
        ("finished", provenance.get("finished_at")),
    ]
    lines = [
        "---",
        dump_metadata(metadata).rstrip(),
        "---",
        "",
        f"# {name} on {facts.env_id}: rlpipe run `{facts.run}`",
        "",
        f"Trained with rlpipe from spec `{facts.family}/{facts.spec}` "
        f"(sha256 `{facts.spec_hash}`) for {facts.frames:,} env frames per seed, seeds {seeds}. "
        "This card is generated by `rlpipe publish` from the run folder; `rlpipe pull` and "
        "`rlpipe audit --online` check it against the files below.",
        "",
        "## Results",
        "",
        "| | mean over seeds [95% CI] | per seed |",
        "| --- | --- | --- |",
        f"| score: final training-return moving average | {_number(facts.score)}"
        f"{_interval(facts.score_ci95)} (IQM {_number(facts.score_iqm)}) | "
        + ", ".join(_number(seed.return_ma) for seed in run.read_summary().per_seed)
        + " |",
        f"| deterministic eval return ({facts.eval_episodes_per_seed} episodes per seed) | "
        f"{_number(facts.eval_return)}{_interval(facts.eval_ci95)} | {eval_seeds} |",
        "",
        f"The 95% CI is a percentile bootstrap of the mean over seeds. `rlpipe eval` of the "
        f"published weights gives the eval return again within a relative {facts.eval_rtol:g} "
        "on the same kind of device.",
        "",
        "## Learning curve",
        "",
        f"![training return against env frames]({CURVE_FILE})",
        "",
        "## Replay",
        "",
        *([f"![replay]({REPLAY_FILE})", "", replay] if replay else ["No replay was published."]),
        "",
        "## Reproduce",
        "",
        "```bash",
        reproduce_commands(facts, repo_id, list(saved.overrides), device),
        "```",
        "",
        f"The first command downloads this run, checks every file against this card, and "
        f"evaluates the weights; the second retrains it (spec hash `{facts.spec_hash[:12]}`) "
        f"with rlpipe at commit `{provenance.get('git_commit')}`.",
        "",
        "## Provenance",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {label} | {'—' if value is None else value} |" for label, value in provenance_rows),
        "",
        "## Resolved spec",
        "",
        "```json",
        json.dumps(saved.document, indent=2, sort_keys=True),
        "```",
        "",
        "## Files",
        "",
        "| file | sha256 |",
        "| --- | --- |",
        *(f"| `{path}` | `{digest}` |" for path, digest in facts.files.items()),
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- reading


def _check_file_path(path: str, source: str) -> None:
    """Raise RlpipeError unless a card's file path is a plain relative path (no .., no /x)."""
    parts = PurePosixPath(path).parts
    plain = (
        0 < len(parts) <= 4
        and PurePosixPath(path).as_posix() == path
        and all(_FILE_PART.fullmatch(part) for part in parts)
    )
    if not plain:
        raise RlpipeError(f"{source} lists the file {path!r}, which is not a plain relative path")


def read_card(text: str, source: str) -> tuple[dict[str, Any], CardFacts]:
    """The metadata and facts of a card's text; RlpipeError naming `source` if the card is not
    one that rlpipe publish wrote (no metadata, no rlpipe block, wrong types, odd paths)."""
    match = _FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if match is None:
        raise RlpipeError(f"{source} has no YAML metadata block: it is not an rlpipe model card")
    metadata = parse_yaml(match["yaml"], source)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("rlpipe"), dict):
        raise RlpipeError(f"{source} has no rlpipe block in its metadata: not an rlpipe card")
    try:
        facts = CardFacts.model_validate(metadata["rlpipe"], strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise RlpipeError(f"{source}: rlpipe.{key}: {first['msg']}") from None
    if len(facts.files) > MAX_CARD_FILES:
        raise RlpipeError(f"{source} lists {len(facts.files)} files, more than {MAX_CARD_FILES}")
    for path, digest in facts.files.items():
        _check_file_path(path, source)
        if not _SHA256.fullmatch(digest):
            raise RlpipeError(f"{source}: the sha256 of {path} is not 64 hex digits")
    return metadata, facts


def _differences(card: Any, run: Any, where: str) -> list[str]:
    """Leaf-by-leaf differences between what the card says and what the run gives."""
    if isinstance(card, Mapping) and isinstance(run, Mapping):
        found = []
        for key in sorted(set(card) | set(run), key=str):
            path = f"{where}.{key}" if where else str(key)
            found += _differences(card.get(key), run.get(key), path)
        return found
    if isinstance(card, list) and isinstance(run, list) and len(card) == len(run):
        found = []
        for index, (left, right) in enumerate(zip(card, run, strict=True)):
            found += _differences(left, right, f"{where}[{index}]")
        return found
    same = (card == run and type(card) is type(run)) or _same_number(card, run)
    return [] if same else [f"{where}: the card says {card!r}, the run gives {run!r}"]


def _same_number(left: Any, right: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
        and float(left) == float(right)
    )


def card_differences(
    metadata: Mapping[str, Any],
    facts: CardFacts,
    run: RunFolder,
    local_files: Mapping[str, Path],
) -> list[str]:
    """What a card states differently from the run folder: its numbers, spec hash and
    model-index, and the sha256 of each of `local_files` (path in the card -> local file)."""
    derived = card_facts(run, facts.run, facts.files)
    expected = card_metadata(derived, str(run.read_spec().spec.algorithm.name))
    found = _differences(
        {"rlpipe": metadata.get("rlpipe"), "model-index": metadata.get("model-index")},
        {"rlpipe": expected["rlpipe"], "model-index": expected.get("model-index")},
        "",
    )
    for path, local in sorted(local_files.items()):
        stated = facts.files.get(path)
        if stated is None:
            found.append(f"files: the card does not list {path}")
        elif sha256_file(local) != stated:
            found.append(
                f"files.{path}: sha256 {sha256_file(local)[:12]}, the card says {stated[:12]}"
            )
    return found
