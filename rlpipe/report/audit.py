"""`rlpipe audit`: re-derive every published number and name each thing that no longer matches."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rlpipe.errors import RlpipeError
from rlpipe.hub import read_hub_links
from rlpipe.report.aggregate import AGGREGATE_COLUMNS, RANDOM_SCORES, suite_aggregate
from rlpipe.report.benchmarks import (
    build_rows,
    format_aggregate_cells,
    format_cells,
    notes_section,
    parse_aggregate_rows,
    parse_markdown_rows,
)
from rlpipe.report.notes import BUDGETS_BULLET, checked_notes_lines
from rlpipe.rundir import SUMMARY_FILE, DamagedRunFile, RunFolder
from rlpipe.spec import DEFAULT_SUITE, Suite, resolve_spec, spec_hash

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NUMBER_COLUMNS = (
    "Score (95% CI)",
    "Frames to target",
    "Frames",
    "FPS",
    "Compute",
    "Device",
    "Spec",
    "Env",
    "Algorithm",
)
STATUS_COLUMNS = ("Status", "Target")
_RUN_CELL = re.compile(r"^\[runs/(?P<key>[^\]]+)\]\((?P<link>[^)]+)\)$")
_PLOT_CELL = re.compile(r"\((?P<path>[^)]+)\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\((?P<path>[^)]+)\)")
_HUB_URL = re.compile(r"/datasets/(?P<repo>[^/]+/[^/]+)/tree/[^/]+/runs/(?P<key>[^/]+)$")

# One code per kind of drift, as listed in `rlpipe audit --help`.
CHECKS = {
    "missing-run": "a linked run is missing (locally, or on the Hub with --online)",
    "missing-plot": "a plot is missing or not a PNG",
    "number-mismatch": "a published score, CI, frames to target, frames, fps, compute, device, "
    "hash, aggregate or note differs from what the runs give",
    "status-mismatch": "a status does not follow from the run's score and the suite target",
    "spec-drift": "the spec in pipelines/ no longer hashes to the run's spec hash",
    "over-budget": "a run used more frames than the suite's budget for its env",
    "dvc-lock-mismatch": "run files differ from what dvc.lock records",
    "stale-stage": "a run's train stage depends on code or spec that changed since it ran",
    "suite-mismatch": "a suite entry without a run or row, or a row without a suite entry",
}


@dataclass(frozen=True)
class Finding:
    """One thing that no longer matches: which check, which row, what exactly."""

    check: str
    row: str
    message: str


@dataclass(frozen=True)
class AuditPaths:
    """Where the audited files live (all relative to the project root by default)."""

    suite: Path = DEFAULT_SUITE
    reports: Path = Path("reports")
    runs: Path = Path("runs")
    pipelines: Path = Path("pipelines")
    root: Path = Path(".")
    random_scores: Path = RANDOM_SCORES


def audit(
    suite: Suite,
    paths: AuditPaths = AuditPaths(),
    online: bool = False,
    remote_exists: Callable[[str, str], bool] | None = None,
) -> list[Finding]:
    """Every finding for the report in paths.reports against the runs, specs and suite."""
    report_path = paths.reports / "BENCHMARKS.md"
    if not report_path.is_file():
        raise RlpipeError(f"no report at {report_path}: run `rlpipe report` (or `dvc repro`)")
    report = report_path.read_text(encoding="utf-8")
    published = {}
    findings: list[Finding] = []
    for cells in parse_markdown_rows(report):
        match = _RUN_CELL.match(cells.get("Run", ""))
        if not match:
            findings.append(Finding("suite-mismatch", cells.get("Env", "?"), "row has no run link"))
            continue
        published[match["key"]] = (cells, match["link"])

    rows = build_rows(
        suite,
        paths.runs,
        plots_dir=paths.reports / "plots",
        hub_links=read_hub_links(paths.reports),
        reports_dir=paths.reports,
    )
    derived = {row["run"]: row for row in rows}
    for key in suite.runs:
        if key not in published:
            findings.append(Finding("suite-mismatch", key, "suite run has no row in the report"))
        if not (paths.runs / key / SUMMARY_FILE).is_file():
            findings.append(
                Finding("suite-mismatch", key, f"suite run has no run folder {paths.runs / key}")
            )

    for key, (cells, link) in published.items():
        if key not in suite.runs:
            findings.append(Finding("suite-mismatch", key, "report row has no entry in the suite"))
            continue
        findings += _check_link(key, link, paths, online, remote_exists)
        findings += _check_plot(key, cells.get("Plot", ""), paths.reports)
        if not (paths.runs / key / SUMMARY_FILE).is_file():
            continue
        expected = format_cells(derived[key])
        for column in NUMBER_COLUMNS + STATUS_COLUMNS:
            if cells.get(column) != expected.get(column):
                check = "status-mismatch" if column in STATUS_COLUMNS else "number-mismatch"
                findings.append(
                    Finding(
                        check,
                        key,
                        f"{column}: report says {cells.get(column)!r}, "
                        f"the run gives {expected.get(column)!r}",
                    )
                )
        findings += _check_spec(key, paths)
        frames, budget = derived[key]["frames"], suite.envs[suite.runs[key].spec].budget
        if frames is not None and frames > budget:
            findings.append(
                Finding("over-budget", key, f"{frames:,} frames, suite budget {budget:,}")
            )
    # The aggregate and the compute total sum over the suite's runs: while the report's rows are
    # not the suite's runs (a suite-mismatch, named above), they differ for that reason alone.
    if set(published) == set(suite.runs):
        aggregate = suite_aggregate(suite, paths.runs, paths.random_scores)
        findings += _check_aggregate(report, aggregate.rows)
        findings += _check_notes(report, checked_notes_lines(rows, aggregate))
    for image in _IMAGE.finditer(report):
        findings += _check_plot("report", f"({image['path']})", paths.reports)
    findings += _check_dvc_lock(suite, paths)
    return sorted(set(findings), key=lambda f: (list(CHECKS).index(f.check), f.row, f.message))


def _check_aggregate(report: str, derived: list[dict]) -> list[Finding]:
    """Aggregate rows that differ from, lack or add to the ones the runs give."""
    published = {cells.get("Algorithm", "?"): cells for cells in parse_aggregate_rows(report)}
    expected = {row["algorithm"]: format_aggregate_cells(row) for row in derived}
    findings = []
    for algorithm in published.keys() - expected.keys():
        findings.append(
            Finding("number-mismatch", f"aggregate {algorithm}", "no such algorithm in the runs")
        )
    for algorithm, cells in expected.items():
        if algorithm not in published:
            findings.append(
                Finding("number-mismatch", f"aggregate {algorithm}", "row missing from the report")
            )
            continue
        for column in AGGREGATE_COLUMNS:
            if published[algorithm].get(column) != cells[column]:
                findings.append(
                    Finding(
                        "number-mismatch",
                        f"aggregate {algorithm}",
                        f"{column}: report says {published[algorithm].get(column)!r}, "
                        f"the runs give {cells[column]!r}",
                    )
                )
    return findings


def _check_notes(report: str, expected: list[str]) -> list[Finding]:
    """The Notes section up to the frame budgets (which restate the suite file): definitions,
    the aggregate's random scores, the suite's compute total, as the runs give them."""
    published = notes_section(report)
    budgets = [i for i, line in enumerate(published) if line.startswith(BUDGETS_BULLET)]
    published = published[: budgets[0]] if budgets else published
    for index, line in enumerate(expected):
        found = published[index] if index < len(published) else None
        if found != line:
            return [
                Finding(
                    "number-mismatch",
                    "notes",
                    f"Notes line {index + 1}: report says {found!r}, the runs give {line!r}",
                )
            ]
    if len(published) > len(expected):
        extra = published[len(expected)]
        return [Finding("number-mismatch", "notes", f"Notes has an extra line {extra!r}")]
    return []


def _check_link(
    key: str,
    link: str,
    paths: AuditPaths,
    online: bool,
    remote_exists: Callable[[str, str], bool] | None,
) -> list[Finding]:
    hub = _HUB_URL.search(link)
    if hub is None:
        if not (paths.reports / link / SUMMARY_FILE).is_file():
            return [Finding("missing-run", key, f"link {link} has no run (no {SUMMARY_FILE})")]
        return []
    if not (paths.runs / key / SUMMARY_FILE).is_file():
        return [
            Finding("missing-run", key, f"no local copy of the published run {paths.runs / key}")
        ]
    if not online:
        return []
    if remote_exists is None:
        from rlpipe.hub import remote_run_exists as remote_exists_default

        def remote_exists(repo: str, run: str) -> bool:
            return remote_exists_default(repo, run)

    try:
        exists = remote_exists(hub["repo"], hub["key"])
    except RlpipeError as exc:
        return [Finding("missing-run", key, f"could not check {link}: {exc}")]
    return [] if exists else [Finding("missing-run", key, f"{link} is not on the Hub")]


def _check_plot(row: str, cell: str, reports: Path) -> list[Finding]:
    match = _PLOT_CELL.search(cell)
    if match is None:
        return [Finding("missing-plot", row, "no plot link")]
    path = reports / match["path"]
    if not path.is_file():
        return [Finding("missing-plot", row, f"{path} is missing")]
    with path.open("rb") as handle:
        if handle.read(8) != PNG_MAGIC:
            return [Finding("missing-plot", row, f"{path} is not a PNG")]
    return []


def _check_spec(key: str, paths: AuditPaths) -> list[Finding]:
    """Spec drift: the pipeline file no longer resolves to the spec the run used.

    Both sides are compared under the current schema (the saved spec is re-validated), so a
    field added to the schema later, with a default, is not drift; a changed value is.
    """
    try:
        saved = RunFolder(paths.runs / key).read_spec()
    except DamagedRunFile as exc:
        return [Finding("spec-drift", key, str(exc))]
    used = saved.spec
    try:
        now = resolve_spec(used.family, used.name, saved.overrides, paths.pipelines)
    except RlpipeError as exc:
        return [Finding("spec-drift", key, f"the spec no longer resolves: {exc}")]
    if now.spec_hash != spec_hash(used):
        return [
            Finding(
                "spec-drift",
                key,
                f"{now.source} now hashes to {now.spec_hash[:12]}, "
                f"the run used {spec_hash(used)[:12]}",
            )
        ]
    return []


def _check_dvc_lock(suite: Suite, paths: AuditPaths) -> list[Finding]:
    """dvc.yaml generated from the suite; run files as dvc.lock records them; no train stage
    whose code or spec changed since it ran (stale-stage)."""
    from rlpipe.stages import DVC_FILE, render_dvc_yaml, stage_status, train_stages

    dvc_file = paths.root / DVC_FILE
    if not dvc_file.is_file():
        return []
    findings = []
    expected = render_dvc_yaml(suite, paths.suite, paths.pipelines)
    if dvc_file.read_text(encoding="utf-8") != expected:
        findings.append(
            Finding(
                "suite-mismatch", DVC_FILE, "dvc.yaml is not the suite's: run rlpipe suite stages"
            )
        )
    if not (paths.root / "dvc.lock").is_file():
        return [
            *findings,
            Finding("dvc-lock-mismatch", "dvc.lock", "dvc.yaml has no dvc.lock: run dvc repro"),
        ]
    stages = train_stages(suite, paths.pipelines)
    run_of = {stage.name: stage.run for stage in stages}
    names = [*run_of, *(f"summarize-{k}" for k, r in suite.runs.items() if r.seed_groups > 1)]
    run_of |= {f"summarize-{k}": k for k in suite.runs}
    try:
        statuses = stage_status(paths.root, names)
    except RlpipeError as exc:
        return [*findings, Finding("dvc-lock-mismatch", "dvc.lock", str(exc))]
    for status in statuses:
        key = run_of.get(status.stage, status.stage)
        if status.changed_code:
            changed = "; ".join(status.changed_code)
            findings.append(
                Finding(
                    "stale-stage",
                    key,
                    f"stage {status.stage} ran before these changed: {changed}; its numbers may "
                    "not be what the current code and spec produce (dvc repro re-runs it)",
                )
            )
        for output, state in status.changed_outputs:
            findings.append(
                Finding("dvc-lock-mismatch", key, f"{output} is {state} since dvc.lock")
            )
    return findings


def findings_json(findings: list[Finding]) -> str:
    """Findings as a JSON document for machines."""
    return json.dumps({"ok": not findings, "findings": [asdict(f) for f in findings]}, indent=2)
