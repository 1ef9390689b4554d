"""`rlpipe report`: one row per suite run, rendered as reports/BENCHMARKS.md and benchmarks.json.

Rows are derived from the suite and the run folders only; every cell of the Markdown table is
produced by `format_cells`, and `parse_markdown_rows` reads the cells back, so `rlpipe audit`
can re-derive each row and compare strings.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from rlpipe.algos.registry import display_name
from rlpipe.errors import RlpipeError
from rlpipe.report.aggregate import (
    AGGREGATE_COLUMNS,
    RANDOM_SCORES,
    Aggregate,
    aggregate_cells,
    read_random_scores,
    suite_aggregate,
)
from rlpipe.report.efficiency import frames_to_target, mean_reached
from rlpipe.report.hub_links import read_hub_links
from rlpipe.report.notes import DEFAULT_SCORE_WINDOW, NOTES_HEADING, notes_lines
from rlpipe.report.paper_curves import curve_lines, curve_rows
from rlpipe.report.parity import parity_lines, parity_result
from rlpipe.report.references import read_reference_csv
from rlpipe.report.replays import replay_lines
from rlpipe.report.shortfalls import shortfall_lines, shortfall_rows
from rlpipe.rundir import RunFolder, atomic_write_json, atomic_write_text
from rlpipe.spec.suite import CATEGORIES, DEFAULT_SUITE, Suite, SuiteEnv, SuiteRun
from rlpipe.watch.video import SHORT_REPLAY_STEPS

REFERENCES = Path("references/slm_lab_v5.2.csv")
RL_ZOO = Path("references/rl_zoo_benchmark.csv")
REPORT_FILE = "BENCHMARKS.md"
DATA_FILE = "benchmarks.json"
TORCH_CPU_PIN = "torch==2.13.0"
"""The CPU torch build the README installs first (a bare `torch` pulls a multi-GB CUDA build)."""

COLUMNS = (
    "Env",
    "Algorithm",
    "Score (95% CI)",
    "Eval",
    "Status",
    "Target",
    "Frames to target",
    "Frames",
    "Updates/frame",
    "FPS",
    "Compute",
    "Device",
    "Spec",
    "Run",
    "SLM-Lab v5.2",
    "RL Zoo",
    "Plot",
)
CATEGORY_TITLES = {"classic": "Classic", "box2d": "Box2D", "mujoco": "MuJoCo", "atari": "Atari"}
CATEGORY_EXTRAS = {"box2d": "box2d", "mujoco": "mujoco", "atari": "atari"}
STATUS_CELLS = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "no score": "— no score",
    "missing run": "— missing run",
}
MISSING_RUN = "missing run"
UNFINISHED_RUN = "unfinished"  # some seeds trained (seed groups over sessions), no summary yet
EMPTY_CELL = "—"
AGGREGATE_HEADING = "## Aggregate"
FPS_FILE = "fps.png"  # written by rlpipe.report.plots, under the same names
PROFILE_FILE = "profile.png"

_CATEGORY_BY_TITLE = {title: category for category, title in CATEGORY_TITLES.items()}
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r":?-{3,}:?")
_DATA_DIGEST = re.compile(
    rf"^<!-- {re.escape(DATA_FILE)} sha256: (?P<digest>[0-9a-f]{{64}}) -->$", re.M
)


# --------------------------------------------------------------------------- rows


def status(score: float | None, target: float) -> str:
    """Return "pass" if score >= target, "fail" if below, "no score" if there is no score."""
    if score is None or not math.isfinite(score):
        return "no score"
    return "pass" if score >= target else "fail"


def _number(record: Mapping[str, str], column: str, path: Path) -> float | None:
    """Return one CSV cell as float, None when empty; raise RlpipeError when not a number."""
    cell = (record.get(column) or "").strip()
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        raise RlpipeError(f"{path}: {column} {cell!r} is not a number") from None


Reference = tuple[float, int | None, float | None]
"""SLM-Lab's (score, frames, updates per frame) for one env and family."""


def read_references(path: Path = REFERENCES) -> dict[tuple[str, str], Reference]:
    """Return {(env id, family): (reference score, frames, updates per frame)} from the SLM-Lab
    CSV (updates per frame where it has a `<family>_updates_per_frame` figure); {} if absent."""
    columns, records = read_reference_csv(path)
    if not columns:
        return {}
    references: dict[tuple[str, str], Reference] = {}
    if "env" not in columns:
        raise RlpipeError(f"{path} has no 'env' column; restore it from git")
    for record in records:
        for column in record:
            if not column or not column.endswith("_score"):
                continue
            family = column.removesuffix("_score")
            score = _number(record, column, path)
            frames = _number(record, f"{family}_frames", path)
            updates = _number(record, f"{family}_updates_per_frame", path)
            if score is not None:
                references[(record["env"], family)] = (
                    score,
                    None if frames is None else int(frames),
                    updates,
                )
    return references


def read_rl_zoo(path: Path = RL_ZOO) -> dict[tuple[str, str], dict[str, Any]]:
    """{(env id, family): RL Zoo's published mean, std, timesteps and env version} from
    references/rl_zoo_benchmark.csv; {} if absent."""
    references: dict[tuple[str, str], dict[str, Any]] = {}
    for record in read_reference_csv(path)[1]:
        missing = [c for c in ("algorithm", "env", "rl_zoo_env") if not record.get(c)]
        mean, std = _number(record, "mean_reward", path), _number(record, "std_reward", path)
        steps = _number(record, "n_timesteps", path)
        if missing or mean is None or std is None or steps is None:
            raise RlpipeError(f"{path}: a row lacks {missing or 'a number'}; restore it from git")
        references[(record["env"], record["algorithm"])] = {
            "mean": mean,
            "std": std,
            "timesteps": int(steps),
            "env": record["rl_zoo_env"],
        }
    return references


def _relative(path: Path, start: Path) -> str:
    """Return `path` relative to `start` in POSIX form (e.g. ../runs/crossq-cartpole)."""
    return Path(os.path.relpath(path, start)).as_posix()


def _device(provenance: Mapping[str, Any] | None) -> str | None:
    """Return the GPU name for a CUDA run, else the CPU model, from a run's provenance."""
    if provenance is None:
        return None
    device = str(provenance.get("device") or "")
    if device.startswith("cuda"):
        return provenance.get("gpu_name") or device
    return provenance.get("cpu_model") or device or None


def trained_seeds(run_dir: Path) -> list[int]:
    """The seeds of a run folder whose training finished (their result.json), in order."""
    folders = RunFolder(run_dir).seeds_with_metrics()
    return [folder.seed for folder in folders if folder.result.is_file()]


def _run_row(
    key: str, run: SuiteRun, env: SuiteEnv, run_dir: Path, base: dict[str, Any]
) -> dict[str, Any]:
    """Return the row of one suite run: the base cells plus what its run folder says; a run
    without summary.json is "unfinished" when some seeds finished training, else "missing run"."""
    run = RunFolder(run_dir)
    if not run.finished():
        seeds = trained_seeds(run_dir)
        return {
            **base,
            "score": None,
            "ci95": None,
            "iqm": None,
            "eval_return": None,
            "status": UNFINISHED_RUN if seeds else MISSING_RUN,
            "seeds_trained": seeds,
            "frames_to_target": None,
            "frames_to_target_per_seed": None,
            "frames": None,
            "updates_per_frame": None,
            "fps": None,
            "cpu_core_s": None,
            "gpu_s": None,
            "device": None,
            "spec_hash": None,
            "score_window": None,
            "target_entropy_scale": None,
            "eval_epsilon": None,
        }
    summary = run.read_summary()
    provenance = run.read_provenance() if run.provenance_file.exists() else None
    per_seed = frames_to_target(run_dir, summary.seeds, env.target)
    algorithm = run.read_algorithm()
    return {
        **base,
        "score": summary.score,
        "ci95": list(summary.score_ci95) if summary.score_ci95 else None,
        "iqm": summary.score_iqm,
        "eval_return": summary.eval_return,
        "status": status(summary.score, env.target),
        "frames_to_target": mean_reached(per_seed),
        "frames_to_target_per_seed": per_seed,
        "frames": summary.frames,
        "updates_per_frame": summary.updates_per_frame,
        "fps": summary.fps,
        "cpu_core_s": summary.cpu_core_s,
        "gpu_s": summary.gpu_s,
        "device": _device(provenance),
        "spec_hash": run.read_spec_hash(),
        "score_window": run.read_meta().get("return_window", DEFAULT_SCORE_WINDOW),
        "target_entropy_scale": _target_entropy_scale(algorithm),
        "eval_epsilon": _eval_epsilon(algorithm),
        "peer": _peer(provenance) or base["peer"],
    }


def _target_entropy_scale(algorithm: Mapping[str, Any]) -> float | None:
    """The fraction of log|A| a SAC or CrossQ run targets with discrete actions; None for an
    algorithm without one, or a spec that sets its target entropy outright."""
    if algorithm.get("target_entropy", "auto") != "auto":
        return None
    scale = algorithm.get("target_entropy_scale")
    return float(scale) if isinstance(scale, (int, float)) else None


def _eval_epsilon(algorithm: Mapping[str, Any]) -> float | None:
    """The chance of a random action in a run's evaluation episodes (DQN); None for an algorithm
    whose evaluation policy has none."""
    epsilon = algorithm.get("eval_epsilon")
    return float(epsilon) if isinstance(epsilon, (int, float)) else None


def _peer(provenance: Mapping[str, Any] | None) -> str | None:
    """The peer library and version that trained a parity run ("sb3-contrib 2.9.2"), from its
    provenance; None for rlpipe's own runs."""
    peer = (provenance or {}).get("peer")
    if not isinstance(peer, Mapping):
        return None
    return f"{peer.get('library')} {peer.get('version')}"


def build_rows(
    suite: Suite,
    runs_root: Path = Path("runs"),
    plots_dir: Path = Path("reports/plots"),
    hub_links: dict[str, str] | None = None,
    references: Path = REFERENCES,
    reports_dir: Path = Path("reports"),
    rl_zoo: Path = RL_ZOO,
) -> list[dict[str, Any]]:
    """Return one row per suite run, by category, then env order, then run order in the suite.

    Links and plot paths are relative to `reports_dir`, where BENCHMARKS.md lives; a run listed
    in `hub_links` links to its Hub URL instead. A run without a summary.json gets status
    "missing run" and no numbers.
    """
    links = hub_links or {}
    slm_lab = read_references(references)
    zoo = read_rl_zoo(rl_zoo)
    rows = []
    for category in CATEGORIES:
        for spec_name, env in suite.envs.items():
            if env.category != category:
                continue
            for key, run in suite.runs.items():
                if run.spec != spec_name:
                    continue
                run_dir = Path(runs_root) / key
                reference = slm_lab.get((env.id, run.family))
                base = {
                    "run": key,
                    "family": run.family,
                    "peer": run.peer,  # a parity run's peer; its library and version once run
                    "spec": spec_name,
                    "env": env.id,
                    "category": category,
                    "target": env.target,
                    "budget": env.budget,
                    "seeds": suite.seeds,
                    "link": links.get(key) or _relative(run_dir, reports_dir),
                    "plot": _relative(Path(plots_dir) / f"{spec_name}.png", reports_dir),
                    "slm_lab": None if reference is None else reference[0],
                    "slm_lab_frames": None if reference is None else reference[1],
                    "slm_lab_updates_per_frame": None if reference is None else reference[2],
                    "rl_zoo": zoo.get((env.id, run.family)),
                }
                row = _run_row(key, run, env, run_dir, base)
                row["parity"] = parity_result(key, suite, runs_root) if run.peer else None
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- cells


def _one_decimal(value: float) -> str:
    """Return `value` with one decimal (e.g. -152.3)."""
    return f"{value:.1f}"


def _up_to_one_decimal(value: float) -> str:
    """Return `value` with at most one decimal: 400, -100, 0.5."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _cell(text: str) -> str:
    """Return `text` safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _score_cell(row: Mapping[str, Any]) -> str:
    """Return "score [lo, hi]" with one decimal, "score" without a CI, "—" without a score."""
    score, ci95 = row.get("score"), row.get("ci95")
    if score is None:
        return EMPTY_CELL
    if not ci95:
        return _one_decimal(score)
    return f"{_one_decimal(score)} [{_one_decimal(ci95[0])}, {_one_decimal(ci95[1])}]"


def _reference_cell(row: Mapping[str, Any]) -> str:
    """Return the SLM-Lab reference as "score (frames frames, u updates/frame)", "—" where it
    has none; the parts it does not give are left out."""
    score, frames = row.get("slm_lab"), row.get("slm_lab_frames")
    if score is None:
        return EMPTY_CELL
    updates = row.get("slm_lab_updates_per_frame")
    details = [
        *([] if frames is None else [f"{frames:,} frames"]),
        *([] if updates is None else [f"{updates:.3g} updates/frame"]),
    ]
    return f"{_one_decimal(score)} ({', '.join(details)})" if details else _one_decimal(score)


def _rl_zoo_cell(row: Mapping[str, Any]) -> str:
    """Return RL Zoo's result as "mean ± std (steps, its env id if not ours)", "—" if none."""
    zoo = row.get("rl_zoo")
    if not zoo:
        return EMPTY_CELL
    version = "" if zoo["env"] == row["env"] else f", {zoo['env']}"
    return f"{zoo['mean']:.1f} ± {zoo['std']:.1f} ({zoo['timesteps']:,} steps{version})"


def _optional(value: float | None, form: str) -> str:
    """Return value formatted, "—" for None."""
    return EMPTY_CELL if value is None else format(value, form)


def _frames_to_target_cell(row: Mapping[str, Any]) -> str:
    """Return "mean frames (reached/seeds)", e.g. "31,000 (3/4)" or "— (0/4)"; "—" without a run."""
    per_seed = row.get("frames_to_target_per_seed")
    if per_seed is None:
        return EMPTY_CELL
    reached = [frame for frame in per_seed if frame is not None]
    mean = row.get("frames_to_target")
    frames = EMPTY_CELL if mean is None else f"{mean:,.0f}"
    return f"{frames} ({len(reached)}/{len(per_seed)})"


def _compute_cell(row: Mapping[str, Any]) -> str:
    return compute_text(row.get("cpu_core_s"), row.get("gpu_s"))


def compute_text(cpu_core_s: float | None, gpu_s: float | None) -> str:
    """Return compute as "12.5 CPU core-min", "3.2 GPU-min", both, or "—" if unknown."""
    if cpu_core_s is None and gpu_s is None:
        return EMPTY_CELL
    parts = []
    if cpu_core_s or not gpu_s:
        parts.append(f"{(cpu_core_s or 0.0) / 60:,.1f} CPU core-min")
    if gpu_s:
        parts.append(f"{gpu_s / 60:,.1f} GPU-min")
    return " + ".join(parts)


def _status_cell(row: Mapping[str, Any]) -> str:
    """Return "✅ pass", "❌ fail", ...; an unfinished run says how many seeds have trained."""
    if row["status"] == UNFINISHED_RUN:
        return f"— unfinished ({len(row['seeds_trained'])}/{row['seeds']} seeds trained)"
    return STATUS_CELLS.get(row["status"], row["status"])


def format_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """Return the exact Markdown cell strings of a row, keyed by column name (see COLUMNS)."""
    frames, fps, spec_hash = row.get("frames"), row.get("fps"), row.get("spec_hash")
    cells = {
        "Env": row["env"],
        "Algorithm": display_name(row["family"]) + (f" ({row['peer']})" if row.get("peer") else ""),
        "Score (95% CI)": _score_cell(row),
        "Eval": _optional(row.get("eval_return"), ".1f"),
        "Status": _status_cell(row),
        "Target": _up_to_one_decimal(row["target"]),
        "Frames to target": _frames_to_target_cell(row),
        "Frames": EMPTY_CELL if frames is None else f"{int(frames):,}",
        "Updates/frame": _optional(row.get("updates_per_frame"), ".3g"),
        "FPS": EMPTY_CELL if fps is None else f"{fps:,.0f}",
        "Compute": _compute_cell(row),
        "Device": row.get("device") or EMPTY_CELL,
        "Spec": EMPTY_CELL if not spec_hash else f"`{spec_hash[:12]}`",
        "Run": f"[runs/{row['run']}]({row['link']})",
        "SLM-Lab v5.2": _reference_cell(row),
        "RL Zoo": _rl_zoo_cell(row),
        "Plot": f"[plot]({row['plot']})",
    }
    return {column: _cell(str(cells[column])) for column in COLUMNS}


def format_aggregate_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """Return the exact Markdown cells of an aggregate row, keyed by AGGREGATE_COLUMNS."""
    return {column: _cell(text) for column, text in aggregate_cells(row).items()}


# --------------------------------------------------------------------------- Markdown


def _table_line(cells: list[str]) -> str:
    """Return one Markdown table line."""
    return "| " + " | ".join(cells) + " |"


def _install_lines(suite: Suite) -> list[str]:
    """Return the install commands for the extras the suite's env categories need."""
    categories = {env.category for env in suite.envs.values()}
    extras = [extra for category, extra in CATEGORY_EXTRAS.items() if category in categories]
    target = f'-e ".[{",".join(extras)}]"' if extras else "-e ."
    return [
        "python3 -m venv .venv && . .venv/bin/activate",
        f"pip install {TORCH_CPU_PIN}  # CPU build first; on a GPU machine, your CUDA build instead",
        f"pip install {target}",
    ]


def _preamble(suite: Suite, suite_path: str, data_digest: str | None) -> list[str]:
    """Return the title, the digest of benchmarks.json and the reproduction commands."""
    copy = (
        [f"cp {suite_path} {DEFAULT_SUITE}  # dvc.yaml reads the suite from {DEFAULT_SUITE}"]
        if suite_path != DEFAULT_SUITE.as_posix()
        else []
    )
    return [
        "# Benchmarks",
        "",
        f"Generated by `rlpipe report` from `{suite_path}` and the run folders; do not edit by "
        "hand. `rlpipe audit` re-derives every cell, link and plot below and fails on any drift.",
        "",
        *([f"<!-- {DATA_FILE} sha256: {data_digest} -->", ""] if data_digest else []),
        "## How to reproduce",
        "",
        "```bash",
        *_install_lines(suite),
        *copy,
        f"dvc repro  # train {suite.seeds} seed(s) per run on {suite.device}, eval, plot, report",
        f"rlpipe report --suite {suite_path}",
        f"rlpipe audit --suite {suite_path}",
        "```",
        "",
        "The columns, the evaluation protocol, the aggregate and the suite's compute are "
        "defined under Notes at the end.",
    ]


def _section(category: str, rows: list[dict[str, Any]]) -> list[str]:
    """Return one category's heading, table and env plots (once per env that has a run)."""
    lines = [f"## {CATEGORY_TITLES[category]}", "", _table_line(list(COLUMNS))]
    lines.append(_table_line(["---"] * len(COLUMNS)))
    lines += [_table_line([format_cells(row)[c] for c in COLUMNS]) for row in rows]
    plots: dict[str, str] = {}
    for row in rows:
        if row["status"] != MISSING_RUN:  # an unfinished run's seeds have curves
            plots.setdefault(row["env"], row["plot"])
    if plots:
        lines.append("")
        lines += [f"![{env_id}]({plot})" for env_id, plot in plots.items()]
    return lines


def _aggregate_section(aggregate: Aggregate, profile_plot: str) -> list[str]:
    """Return the Aggregate heading, its table (one row per algorithm) and the profile plot."""
    lines = [
        AGGREGATE_HEADING,
        "",
        "IQM of the per-env normalised scores, 0 = random policy, 1 = target (see Notes), with "
        "95% stratified-bootstrap confidence intervals.",
        "",
        _table_line(list(AGGREGATE_COLUMNS)),
        _table_line(["---"] * len(AGGREGATE_COLUMNS)),
    ]
    for row in aggregate.rows:
        cells = format_aggregate_cells(row)
        lines.append(_table_line([cells[column] for column in AGGREGATE_COLUMNS]))
    coverage = {tuple(row["envs"]) for row in aggregate.rows}
    if len(coverage) > 1:
        lines += ["", "Envs per algorithm (the IQMs compare different env sets):", ""]
        lines += [f"- {row['algorithm']}: {', '.join(row['envs'])}" for row in aggregate.rows]
    lines += [
        "",
        "Performance profile: the fraction of runs (env x seed) whose normalised score is above "
        "each threshold, mean over envs, with its 95% stratified-bootstrap band; the dashed "
        "line is the target.",
        "",
        f"![performance profile]({profile_plot})",
    ]
    return lines


def render_markdown(
    rows: list[dict[str, Any]],
    suite: Suite,
    suite_path: str | Path,
    aggregate: Aggregate | None = None,
    data_digest: str | None = None,
    curves: list[dict[str, Any]] | None = None,
    shortfalls: list[dict[str, Any]] | None = None,
) -> str:
    """Return BENCHMARKS.md: how to reproduce, one table (and plots) per category, the
    aggregate over envs, throughput, and the notes.

    data_digest, the sha256 of the benchmarks.json written with it, goes into an HTML comment.
    """
    aggregate = aggregate or Aggregate([], {}, [])
    suite_text = Path(suite_path).as_posix()
    lines = _preamble(suite, suite_text, data_digest)
    for category in CATEGORIES:
        in_category = [row for row in rows if row["category"] == category]
        if in_category:
            lines += ["", *_section(category, in_category)]
    if parity := parity_lines(rows):
        lines += ["", *parity]
    if below := shortfall_lines(shortfalls or []):
        lines += ["", *below]
    if paper := curve_lines(curves or []):
        lines += ["", *paper]
    if suite.replays:
        cells = {row["run"]: format_cells(row) for row in rows}
        lines += ["", *replay_lines(rows, cells, SHORT_REPLAY_STEPS)]
    with_runs = [row for row in rows if row["status"] != MISSING_RUN]
    if with_runs:
        plots = PurePosixPath(with_runs[0]["plot"]).parent
        if aggregate.rows:
            lines += ["", *_aggregate_section(aggregate, (plots / PROFILE_FILE).as_posix())]
        lines += [
            "",
            "## Throughput",
            "",
            "Env frames per second over each log interval (frames since the previous metrics "
            "row, divided by its seconds) against wall-clock seconds, one line per run (mean "
            "over seeds), on a log axis: the burst of random-action frames before learning "
            "starts no longer flattens the lines of the learning phase.",
            "",
            f"![frames per second]({(plots / FPS_FILE).as_posix()})",
        ]
    lines += ["", *notes_lines(suite, rows, aggregate)]
    return "\n".join(lines) + "\n"


def notes_section(text: str) -> list[str]:
    """Return the lines of a BENCHMARKS.md's Notes section, from its heading to the next one."""
    return _section_lines(text, NOTES_HEADING)


def _section_lines(text: str, heading: str) -> list[str]:
    """Return the lines from `heading` up to (not including) the next "## " heading."""
    lines = text.splitlines()
    if heading not in lines:
        return []
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def _split_cells(line: str) -> list[str]:
    """Return the cells of one Markdown table line, escaped pipes kept as written."""
    inner = line.strip().removeprefix("|")
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    return [cell.strip() for cell in _UNESCAPED_PIPE.split(inner)]


def read_data_digest(text: str) -> str | None:
    """Return the benchmarks.json sha256 that a BENCHMARKS.md records, None if it has none."""
    match = _DATA_DIGEST.search(text)
    return match["digest"] if match else None


def parse_markdown_rows(text: str) -> list[dict[str, str]]:
    """Return the table rows of a BENCHMARKS.md as {column: cell} plus "category" (e.g. classic)."""
    rows: list[dict[str, str]] = []
    category: str | None = None
    header: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            category, header = _CATEGORY_BY_TITLE.get(line[3:].strip()), None
            continue
        if category is None or not line.lstrip().startswith("|"):
            header = None
            continue
        cells = _split_cells(line)
        if header is None:
            header = cells
        elif not all(_SEPARATOR_CELL.fullmatch(cell) for cell in cells):
            # a row with missing or extra cells keeps what it has; audit names the difference
            rows.append({**dict(zip(header, cells, strict=False)), "category": category})
    return rows


def parse_aggregate_rows(text: str) -> list[dict[str, str]]:
    """Return the rows of a BENCHMARKS.md's Aggregate table as {column: cell}."""
    rows = []
    table = [line for line in _section_lines(text, AGGREGATE_HEADING) if line.startswith("|")]
    if not table:
        return []
    header = _split_cells(table[0])
    for line in table[1:]:
        cells = _split_cells(line)
        if not all(_SEPARATOR_CELL.fullmatch(cell) for cell in cells):
            rows.append(dict(zip(header, cells, strict=False)))
    return rows


def write_report(
    suite: Suite,
    suite_path: str | Path,
    reports_dir: Path = Path("reports"),
    runs_root: Path = Path("runs"),
    references: Path = REFERENCES,
    random_scores: Path = RANDOM_SCORES,
) -> tuple[Path, Path]:
    """Write reports_dir/benchmarks.json, then BENCHMARKS.md, each atomically; return both paths.

    BENCHMARKS.md records the sha256 of the benchmarks.json it was written with, so a kill
    between the two writes leaves a pair that `rlpipe audit` names (data-mismatch) instead of
    two files silently out of step.
    """
    reports_dir = Path(reports_dir)
    rows = build_rows(
        suite,
        runs_root,
        reports_dir / "plots",
        read_hub_links(reports_dir),
        references,
        reports_dir,
    )
    aggregate = suite_aggregate(suite, runs_root, random_scores)
    curves = curve_rows(rows, runs_root)
    shortfalls = shortfall_rows(rows, runs_root, read_random_scores(random_scores))
    markdown = reports_dir / REPORT_FILE
    data = reports_dir / DATA_FILE
    atomic_write_json(
        data,
        {"suite": Path(suite_path).as_posix(), "rows": rows, "aggregate": aggregate.to_json()},
    )
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    text = render_markdown(rows, suite, suite_path, aggregate, digest, curves, shortfalls)
    atomic_write_text(markdown, text)
    return markdown, data
