"""`rlpipe report`: one row per suite run, rendered as reports/BENCHMARKS.md and benchmarks.json.

Rows are derived from the suite and the run folders only; every cell of the Markdown table is
produced by `format_cells`, and `parse_markdown_rows` reads the cells back, so `rlpipe audit`
can re-derive each row and compare strings.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from rlpipe.algos.registry import display_name
from rlpipe.errors import RlpipeError
from rlpipe.hub import read_hub_links
from rlpipe.rundir import RunFolder, atomic_write_json, atomic_write_text
from rlpipe.spec.suite import CATEGORIES, DEFAULT_SUITE, Suite, SuiteEnv, SuiteRun

REFERENCES = Path("references/slm_lab_v5.2.csv")
REPORT_FILE = "BENCHMARKS.md"
DATA_FILE = "benchmarks.json"
TORCH_CPU_PIN = "torch==2.13.0"
"""The CPU torch build the README installs first (a bare `torch` pulls a multi-GB CUDA build)."""

COLUMNS = (
    "Env",
    "Algorithm",
    "Score (95% CI)",
    "Status",
    "Target",
    "Frames",
    "FPS",
    "Device",
    "Spec",
    "Run",
    "SLM-Lab v5.2",
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
EMPTY_CELL = "—"

_CATEGORY_BY_TITLE = {title: category for category, title in CATEGORY_TITLES.items()}
_DATA_DIGEST = re.compile(
    rf"^<!-- {re.escape(DATA_FILE)} sha256: (?P<digest>[0-9a-f]{{64}}) -->$", re.M
)
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r":?-{3,}:?")


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


def read_references(path: Path = REFERENCES) -> dict[tuple[str, str], tuple[float, int | None]]:
    """Return {(env id, family): (reference score, frames)} from the SLM-Lab CSV; {} if absent."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    references: dict[tuple[str, str], tuple[float, int | None]] = {}
    reader = csv.DictReader(lines)
    if "env" not in (reader.fieldnames or []):
        raise RlpipeError(f"{path} has no 'env' column; restore it from git")
    for record in reader:
        for column in record:
            if not column or not column.endswith("_score"):
                continue
            family = column.removesuffix("_score")
            score = _number(record, column, path)
            frames = _number(record, f"{family}_frames", path)
            if score is not None:
                references[(record["env"], family)] = (
                    score,
                    None if frames is None else int(frames),
                )
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


def _run_row(
    key: str, run: SuiteRun, env: SuiteEnv, run_dir: Path, base: dict[str, Any]
) -> dict[str, Any]:
    """Return the row of one suite run: the base cells plus what its run folder says."""
    run = RunFolder(run_dir)
    if not run.finished():
        return {
            **base,
            "score": None,
            "ci95": None,
            "iqm": None,
            "eval_return": None,
            "status": MISSING_RUN,
            "frames": None,
            "fps": None,
            "device": None,
            "spec_hash": None,
        }
    summary = run.read_summary()
    provenance = run.read_provenance() if run.provenance_file.exists() else None
    return {
        **base,
        "score": summary.score,
        "ci95": list(summary.score_ci95) if summary.score_ci95 else None,
        "iqm": summary.score_iqm,
        "eval_return": summary.eval_return,
        "status": status(summary.score, env.target),
        "frames": summary.frames,
        "fps": summary.fps,
        "device": _device(provenance),
        "spec_hash": run.read_spec_hash(),
        "peer": _peer(provenance) or base["peer"],
    }


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
) -> list[dict[str, Any]]:
    """Return one row per suite run, by category, then env order, then run order in the suite.

    Links and plot paths are relative to `reports_dir`, where BENCHMARKS.md lives; a run listed
    in `hub_links` links to its Hub URL instead. A run without a summary.json gets status
    "missing run" and no numbers.
    """
    links = hub_links or {}
    slm_lab = read_references(references)
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
                    "link": links.get(key) or _relative(run_dir, reports_dir),
                    "plot": _relative(Path(plots_dir) / f"{spec_name}.png", reports_dir),
                    "slm_lab": None if reference is None else reference[0],
                    "slm_lab_frames": None if reference is None else reference[1],
                }
                rows.append(_run_row(key, run, env, run_dir, base))
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
    """Return the SLM-Lab reference as "score (frames frames)", "—" where it has none."""
    score, frames = row.get("slm_lab"), row.get("slm_lab_frames")
    if score is None:
        return EMPTY_CELL
    if frames is None:
        return _one_decimal(score)
    return f"{_one_decimal(score)} ({frames:,} frames)"


def format_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """Return the exact Markdown cell strings of a row, keyed by column name (see COLUMNS)."""
    frames, fps, spec_hash = row.get("frames"), row.get("fps"), row.get("spec_hash")
    cells = {
        "Env": row["env"],
        "Algorithm": display_name(row["family"]) + (f" ({row['peer']})" if row.get("peer") else ""),
        "Score (95% CI)": _score_cell(row),
        "Status": STATUS_CELLS.get(row["status"], row["status"]),
        "Target": _up_to_one_decimal(row["target"]),
        "Frames": EMPTY_CELL if frames is None else f"{int(frames):,}",
        "FPS": EMPTY_CELL if fps is None else f"{fps:,.0f}",
        "Device": row.get("device") or EMPTY_CELL,
        "Spec": EMPTY_CELL if not spec_hash else f"`{spec_hash[:12]}`",
        "Run": f"[runs/{row['run']}]({row['link']})",
        "SLM-Lab v5.2": _reference_cell(row),
        "Plot": f"[plot]({row['plot']})",
    }
    return {column: _cell(str(cells[column])) for column in COLUMNS}


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


def _budget_lines(suite: Suite) -> list[str]:
    """Return one bullet per env: the frames each of its runs trains for, and its budget."""
    lines = []
    for category in CATEGORIES:
        for spec_name, env in suite.envs.items():
            runs = [run for run in suite.runs.values() if run.spec == spec_name]
            if env.category != category or not runs:
                continue
            trained = ", ".join(f"{display_name(run.family)} {run.frames:,}" for run in runs)
            lines.append(
                f"- {env.id} (`{spec_name}`): trained for {trained} frames per seed; "
                f"suite budget {env.budget:,} frames."
            )
    return lines


NOTES = (
    "- Evaluation (`eval_return`, `rlpipe eval`): one episode in each of the spec's eval envs "
    "(fixed seeds) with the deterministic policy: the tanh of the Gaussian mean (SAC, CrossQ), "
    "the Gaussian mean clipped to the bounds or the most probable action (PPO, A2C); DQN acts "
    "epsilon-greedily with `eval_epsilon` 0.05, as CleanRL's DQN evaluation. Atari: ALE v5 "
    "(sticky actions 0.25), whole games over all lives, FIRE pressed after a reset and after "
    "a lost life in games that need it (SB3's FireResetEnv, as CleanRL uses it).",
    "- Discrete SAC and CrossQ target an entropy of 0.89 log|A| and take the minimum of the "
    "Q estimates in the policy loss, as CleanRL's sac_atari.py; SLM-Lab uses 0.6 log|A| and "
    "the mean of the two Q estimates.",
)
"""Where the suite's protocol departs from, or chooses between, the references it is compared to."""


def _preamble(suite: Suite, suite_path: str, data_digest: str | None) -> list[str]:
    """Return the title, the digest of benchmarks.json, reproduction commands, score definition
    and frame budgets."""
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
        "**Score**: the final training-return moving average (`return_ma` at the end of "
        "training), mean over seeds; in brackets, the 95% percentile-bootstrap confidence "
        "interval of that mean over seeds. **Status** follows from score and target: pass when "
        "the score is at or above the target. **SLM-Lab v5.2**: the published reference score "
        "and the frames it trained for; compare frames before comparing scores. SLM-Lab's "
        "score is a moving average over 100 checkpoints, where rlpipe's averages the last "
        "100 training episodes.",
        "",
        "**Frame budgets**: each run trains for the frames below (the Frames column shows what "
        "it ran); the suite budget is the most a run of that env may use.",
        "",
        *_budget_lines(suite),
        "",
        "**Notes**:",
        "",
        *NOTES,
    ]


def _section(category: str, rows: list[dict[str, Any]]) -> list[str]:
    """Return one category's heading, table and env plots (once per env that has a run)."""
    lines = [f"## {CATEGORY_TITLES[category]}", "", _table_line(list(COLUMNS))]
    lines.append(_table_line(["---"] * len(COLUMNS)))
    lines += [_table_line([format_cells(row)[c] for c in COLUMNS]) for row in rows]
    plots: dict[str, str] = {}
    for row in rows:
        if row["status"] != MISSING_RUN:
            plots.setdefault(row["env"], row["plot"])
    if plots:
        lines.append("")
        lines += [f"![{env_id}]({plot})" for env_id, plot in plots.items()]
    return lines


def render_markdown(
    rows: list[dict[str, Any]],
    suite: Suite,
    suite_path: str | Path,
    data_digest: str | None = None,
) -> str:
    """Return BENCHMARKS.md: how to reproduce, then one table (and plots) per category.

    data_digest, the sha256 of the benchmarks.json written with it, goes into an HTML comment.
    """
    suite_text = Path(suite_path).as_posix()
    lines = _preamble(suite, suite_text, data_digest)
    for category in CATEGORIES:
        in_category = [row for row in rows if row["category"] == category]
        if in_category:
            lines += ["", *_section(category, in_category)]
    with_runs = [row for row in rows if row["status"] != MISSING_RUN]
    if with_runs:
        fps_plot = (PurePosixPath(with_runs[0]["plot"]).parent / "fps.png").as_posix()
        lines += [
            "",
            "## Throughput",
            "",
            "Env frames per second against wall-clock seconds, one line per run (mean over seeds).",
            "",
            f"![frames per second]({fps_plot})",
        ]
    return "\n".join(lines) + "\n"


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


def write_report(
    suite: Suite,
    suite_path: str | Path,
    reports_dir: Path = Path("reports"),
    runs_root: Path = Path("runs"),
    references: Path = REFERENCES,
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
    markdown = reports_dir / REPORT_FILE
    data = reports_dir / DATA_FILE
    atomic_write_json(data, {"suite": Path(suite_path).as_posix(), "rows": rows})
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    atomic_write_text(markdown, render_markdown(rows, suite, suite_path, digest))
    return markdown, data
