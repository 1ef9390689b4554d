"""`rlpipe audit`: re-derive every published number and name each thing that no longer matches.

This is the offline audit: the report against the local runs, specs, suite and dvc.lock. It
reaches nothing outside the project; `rlpipe audit --online` adds rlpipe.hub.audit's checks of
the runs the report links on the Hub (`OfflineAudit.hub_runs`: the Hub links that passed every
check here) and their model cards.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rlpipe.errors import RlpipeError
from rlpipe.report.aggregate import (
    AGGREGATE_COLUMNS,
    RANDOM_SCORES,
    read_random_scores,
    suite_aggregate,
)
from rlpipe.report.audit_scores import score_mismatches
from rlpipe.report.benchmarks import (
    DATA_FILE,
    REPORT_FILE,
    build_rows,
    format_aggregate_cells,
    format_cells,
    notes_section,
    parse_aggregate_rows,
    parse_markdown_rows,
    read_data_digest,
    render_markdown,
    trained_seeds,
)
from rlpipe.report.damaged_runs import damaged_runs
from rlpipe.report.hub_links import read_hub_links, resolve_endpoint, run_url
from rlpipe.report.notes import BUDGETS_BULLET, checked_notes_lines
from rlpipe.report.paper_curves import HEADING as CURVES_HEADING
from rlpipe.report.paper_curves import curve_lines, curve_rows
from rlpipe.report.parity import HEADING as PARITY_HEADING
from rlpipe.report.parity import parity_lines
from rlpipe.report.replays import GIF_MAGIC, is_replay_image, parse_replay_rows, replay_path
from rlpipe.report.shortfalls import HEADING as BELOW_TARGET_HEADING
from rlpipe.report.shortfalls import shortfall_lines, shortfall_rows
from rlpipe.rundir import RunFolder
from rlpipe.spec import DEFAULT_SUITE, Suite, resolve_spec, spec_hash

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NUMBER_COLUMNS = (
    "Score (95% CI)",
    "Eval",
    "Frames to target",
    "Frames",
    "Updates/frame",
    "FPS",
    "Compute",
    "Device",
    "Spec",
    "Env",
    "Algorithm",
    "SLM-Lab v5.2",
    "RL Zoo",
)
STATUS_COLUMNS = ("Status", "Target")
_RUN_CELL = re.compile(r"^\[runs/(?P<key>[^\]]+)\]\((?P<link>[^)]+)\)$")
_PLOT_CELL = re.compile(r"\((?P<path>[^)]+)\)")
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<path>[^)]+)\)")
# One code per kind of drift, as listed in `rlpipe audit --help`.
CHECKS = {
    "missing-run": "a linked run is missing (locally, or on the Hub with --online)",
    "damaged-run": "a suite run's files cannot be read (a file missing, not UTF-8, not the JSON "
    "or CSV rlpipe writes): its row is not checked until the file is restored from git or DVC",
    "missing-plot": "a plot is missing or not a PNG",
    "wrong-link": "a run link to another run, a plot link to another env's plot, or a Hub link "
    "outside the suite's repo on the configured endpoint",
    "number-mismatch": "a published score, CI, eval return, frames to target, frames, updates per "
    "frame, fps, compute, device, hash, reference, parity comparison, aggregate or note differs "
    "from what the runs (and references/) give",
    "data-mismatch": "benchmarks.json is missing, damaged, not the one BENCHMARKS.md was written "
    "with, or disagrees with the table or the runs",
    "status-mismatch": "a status does not follow from the run's score and the suite target",
    "spec-drift": "the spec in pipelines/ no longer hashes to the run's spec hash",
    "over-budget": "a run used more frames than the suite's budget for its env",
    "dvc-lock-mismatch": "run files differ from what dvc.lock records",
    "stale-stage": "a run's train stage depends on code or spec that changed since it ran",
    "unrun-stage": "a suite stage that has never run: dvc.lock has no entry for it",
    "suite-mismatch": "a suite entry without a run or row, a row without a suite entry or run "
    "link, or a run with more than one row",
    "report-drift": "BENCHMARKS.md differs from what rlpipe report writes from the runs and the "
    "suite (text, headings, columns, frame budgets: what the checks above do not parse); "
    "named only when they found nothing in the report",
    "missing-replay": "a run's replay GIF (suite replays: true) is missing from the Replays "
    "section or from reports/replays, or is not a GIF",
    "card-mismatch": "with --online: a published run's model card is missing, or states "
    "numbers, a spec hash or file digests that differ from the run",
}
REPORT_CHECKS = frozenset(
    {"missing-run", "missing-plot", "wrong-link", "number-mismatch", "data-mismatch",
     "status-mismatch", "over-budget", "suite-mismatch", "missing-replay"}
)  # fmt: skip
"""Checks whose findings already say where the report differs: report-drift waits for them."""
REPLAY_NUMBER_COLUMNS = ("Env", "Algorithm", "Score (95% CI)")


@dataclass(frozen=True)
class Finding:
    """One thing that no longer matches: which check, which row, what exactly."""

    check: str
    row: str
    message: str


@dataclass(frozen=True)
class HubRun:
    """A report row whose run link is on the Hub and passed the offline checks: the run the
    link names in the suite's repo, and its local copy (which the card must state)."""

    key: str
    link: str
    run_dir: Path


@dataclass(frozen=True)
class OfflineAudit:
    """The offline audit's findings, and the Hub runs the report links for `--online`."""

    findings: list[Finding]
    hub_runs: list[HubRun]


@dataclass(frozen=True)
class AuditPaths:
    """Where the audited files live (all relative to the project root by default)."""

    suite: Path = DEFAULT_SUITE
    reports: Path = Path("reports")
    runs: Path = Path("runs")
    pipelines: Path = Path("pipelines")
    root: Path = Path(".")
    random_scores: Path = RANDOM_SCORES


def audit(suite: Suite, paths: AuditPaths = AuditPaths()) -> list[Finding]:
    """Every offline finding for the report in paths.reports against the runs, specs and suite."""
    return offline_audit(suite, paths).findings


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings without repeats, in the order of CHECKS, then by row and message."""
    return sorted(set(findings), key=lambda f: (list(CHECKS).index(f.check), f.row, f.message))


def offline_audit(suite: Suite, paths: AuditPaths = AuditPaths()) -> OfflineAudit:
    """Every finding for the report in paths.reports against the runs, specs and suite, and
    the rows whose Hub link passed them (for `rlpipe audit --online`)."""
    report_path = paths.reports / "BENCHMARKS.md"
    if not report_path.is_file():
        raise RlpipeError(f"no report at {report_path}: run `rlpipe report` (or `dvc repro`)")
    try:
        report_text = report_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RlpipeError(f"cannot read {report_path}: {exc}; re-run `rlpipe report`") from None
    published = {}
    findings: list[Finding] = []
    hub_runs: list[HubRun] = []
    for cells in parse_markdown_rows(report_text):
        match = _RUN_CELL.match(cells.get("Run", ""))
        if not match:
            findings.append(Finding("suite-mismatch", cells.get("Env", "?"), "row has no run link"))
            continue
        if match["key"] in published:
            message = "the report has more than one row for this run"
            findings.append(Finding("suite-mismatch", match["key"], message))
        published[match["key"]] = (cells, match["link"])

    damaged = damaged_runs(suite, paths.runs)
    findings += [Finding("damaged-run", key, message) for key, message in damaged.items()]
    readable = suite.model_copy(
        update={"runs": {k: run for k, run in suite.runs.items() if k not in damaged}}
    )
    rows = build_rows(
        readable,
        paths.runs,
        plots_dir=paths.reports / "plots",
        hub_links=read_hub_links(paths.reports),
        reports_dir=paths.reports,
    )
    derived = {row["run"]: row for row in rows}
    for key in suite.runs:
        if key not in published:
            findings.append(Finding("suite-mismatch", key, "suite run has no row in the report"))
        if not RunFolder(paths.runs / key).finished():
            findings.append(Finding("suite-mismatch", key, _unfinished(paths.runs / key, suite)))

    for key, (cells, link) in published.items():
        if key not in suite.runs:
            findings.append(Finding("suite-mismatch", key, "report row has no entry in the suite"))
            continue
        if key in damaged:
            continue  # nothing of the row can be checked against files that cannot be read
        link_findings = _check_link(key, link, suite, derived[key]["link"], paths)
        findings += link_findings
        if not link_findings and _on_hub(link):
            hub_runs.append(HubRun(key, link, paths.runs / key))
        findings += _check_plot_link(
            key, cells.get("Plot", ""), derived[key]["plot"], paths.reports
        )
        if not RunFolder(paths.runs / key).finished():
            continue
        expected = format_cells(derived[key])
        flagged = set()
        for column in NUMBER_COLUMNS + STATUS_COLUMNS:
            if cells.get(column) != expected.get(column):
                flagged.add(column)
                check = "status-mismatch" if column in STATUS_COLUMNS else "number-mismatch"
                findings.append(
                    Finding(
                        check,
                        key,
                        f"{column}: report says {cells.get(column)!r}, "
                        f"the run gives {expected.get(column)!r}",
                    )
                )
        target = suite.envs[suite.runs[key].spec].target
        # The second path names what the first did not (a bug in the row builder would pass it).
        for problem in score_mismatches(cells, paths.runs / key, target):
            column = problem.partition(":")[0]
            if column not in flagged:
                check = "status-mismatch" if column == "Status" else "number-mismatch"
                findings.append(Finding(check, key, problem))
        findings += _check_spec(key, paths)
        frames, budget = derived[key]["frames"], suite.envs[suite.runs[key].spec].budget
        if frames is not None and frames > budget:
            findings.append(
                Finding("over-budget", key, f"{frames:,} frames, suite budget {budget:,}")
            )
    env_plots: dict[str, set[str]] = {}
    for row in rows:
        env_plots.setdefault(row["env"], set()).add(row["plot"])
    # The aggregate and the compute total sum over the suite's runs: while the report's rows are
    # not the suite's runs (a suite-mismatch, named above), or a run cannot be read (a
    # damaged-run), they differ for that reason alone.
    whole: dict[str, Any] = {"suite": Path(paths.suite).as_posix()}
    rendered = None
    if set(published) == set(suite.runs) and not damaged:
        aggregate = suite_aggregate(suite, paths.runs, paths.random_scores)
        whole["aggregate"] = aggregate.to_json()
        findings += _check_aggregate(report_text, aggregate.rows)
        findings += _check_notes(report_text, checked_notes_lines(rows, aggregate))
        findings += _check_section(report_text, PARITY_HEADING, parity_lines(rows), "parity")
        below = shortfall_rows(rows, paths.runs, read_random_scores(paths.random_scores))
        findings += _check_section(
            report_text, BELOW_TARGET_HEADING, shortfall_lines(below), "below-target"
        )
        curves = curve_rows(rows, paths.runs)
        findings += _check_section(report_text, CURVES_HEADING, curve_lines(curves), "paper-curves")
        digest = read_data_digest(report_text)
        rendered = render_markdown(rows, suite, paths.suite, aggregate, digest, curves, below)
    findings += _check_replays(report_text, suite, rows, paths.reports, set(damaged))
    for image in _IMAGE.finditer(report_text):
        if is_replay_image(image["path"]):
            continue  # a replay GIF: _check_replays
        findings += _check_plot("report", f"({image['path']})", paths.reports)
        if image["alt"] in env_plots and image["path"] not in env_plots[image["alt"]]:
            expected = ", ".join(sorted(env_plots[image["alt"]]))
            message = f"the image of {image['alt']} shows {image['path']}, not its plot {expected}"
            findings.append(Finding("wrong-link", "report", message))
    # a parity row's comparison reads its rlpipe twin: not derived while the twin is damaged
    underived = {
        key: {"parity"}
        for key, run in suite.runs.items()
        if run.peer is not None and f"{run.family}-{run.spec}" in damaged
    }
    findings += _check_data(report_text, published, derived, paths.reports, whole, underived)
    if rendered is not None and not any(f.check in REPORT_CHECKS for f in findings):
        findings += _check_rendered(report_text, rendered)
    findings += _check_dvc_lock(suite, paths)
    return OfflineAudit(sorted_findings(findings), hub_runs)


def _check_rendered(report: str, rendered: str) -> list[Finding]:
    """The whole of BENCHMARKS.md against what `rlpipe report` writes from the same runs now:
    the last word on anything the cell-by-cell checks do not parse (text, headings, columns,
    a row in another category's table, the frame budgets)."""
    difference = _first_difference(report.splitlines(), rendered.splitlines())
    if difference is None:
        return []
    line, found, wanted = difference
    message = (
        f"{REPORT_FILE} line {line}: report says {found!r}, rlpipe report writes "
        f"{wanted!r} from the runs and the suite"
    )
    return [Finding("report-drift", REPORT_FILE, message)]


def _first_difference(
    lines: list[str], expected: list[str]
) -> tuple[int, str | None, str | None] | None:
    """The first line (1-based) where two texts differ, with each side's line there (None past
    its end); None if they are the same."""
    if lines == expected:
        return None
    first = next(
        (i for i, (a, b) in enumerate(zip(lines, expected, strict=False)) if a != b),
        min(len(lines), len(expected)),
    )
    found = lines[first] if first < len(lines) else None
    wanted = expected[first] if first < len(expected) else None
    return first + 1, found, wanted


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


def _check_section(report: str, heading: str, expected: list[str], name: str) -> list[Finding]:
    """A section of the report that the runs determine line by line (Parity, the paper's
    curves): present exactly when expected, and equal to it."""
    lines = report.splitlines()
    if heading not in lines:
        missing = f"the report has no {heading.removeprefix('## ')} section"
        return [Finding("number-mismatch", name, missing)] if expected else []
    start = lines.index(heading)
    after = [i for i, line in enumerate(lines) if i > start and line.startswith("## ")]
    section = lines[start : after[0] if after else len(lines)]
    while section and not section[-1].strip():
        section.pop()
    difference = _first_difference(section, expected)
    if difference is None:
        return []
    line, found, wanted = difference
    message = f"{heading[3:]} line {line}: report says {found!r}, the runs give {wanted!r}"
    return [Finding("number-mismatch", name, message)]


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


def _on_hub(link: str) -> bool:
    """Whether a run link is a URL (a run on the Hub), not a path to a local run folder."""
    return bool(urlsplit(link).scheme) or link.startswith("//")


def _check_link(
    key: str, link: str, suite: Suite, expected_link: str, paths: AuditPaths
) -> list[Finding]:
    """A row's run link: the run it reaches (locally, or a local copy of the run on the Hub)
    must be the row's run, and the link the one the runs and reports/hub.json give."""
    on_hub = _on_hub(link)
    if on_hub:
        own = run_url(suite.hub_repo, key)
        if link != own:
            return [
                Finding(
                    "wrong-link",
                    key,
                    f"Hub link {link} is not run {key} in the suite's repo {suite.hub_repo} at "
                    f"{resolve_endpoint()}; expected {own}",
                )
            ]
        run_dir = paths.runs / key
        if not RunFolder(run_dir).finished():
            return [Finding("missing-run", key, f"no local copy of the published run {run_dir}")]
    else:
        run_dir = paths.reports / link
        if not RunFolder(run_dir).finished():
            return [Finding("missing-run", key, f"link {link} has no finished run there")]
    run = suite.runs[key]
    held = _run_held(run_dir)
    if held != f"run {run.family}/{run.spec}":
        where = f"{link} (local copy {run_dir})" if on_hub else link
        message = f"link {where} holds {held}, not run {run.family}/{run.spec}"
        return [Finding("wrong-link", key, message)]
    if link != expected_link:
        return [
            Finding(
                "wrong-link",
                key,
                f"link {link}, but the runs and reports/hub.json give {expected_link}: re-run "
                "rlpipe report",
            )
        ]
    return []


def _check_replays(
    report: str,
    suite: Suite,
    rows: list[dict[str, Any]],
    reports: Path,
    damaged: Collection[str],
) -> list[Finding]:
    """The Replays section: with `replays: true`, a row per rlpipe run with the run's own cells
    and a link to its GIF in reports/replays, which must be a GIF; without, no section. The
    rows of `damaged` runs are left out (a damaged-run says why)."""
    published = {k: v for k, v in parse_replay_rows(report).items() if k not in damaged}
    expected = {
        row["run"]: row
        for row in rows
        if suite.replays and row.get("spec_hash") and not row.get("peer")
    }
    findings = [
        Finding("suite-mismatch", key, "a Replays row, but the suite shows no replay of it")
        for key in sorted(published.keys() - expected.keys())
    ]
    for key, row in expected.items():
        cells = published.get(key)
        if cells is None:
            findings.append(Finding("missing-replay", key, "no row in the Replays section"))
            continue
        own = format_cells(row)
        for column in REPLAY_NUMBER_COLUMNS:
            if cells[column] != own[column]:
                message = f"Replays {column}: report says {cells[column]!r}, the run gives {own[column]!r}"
                findings.append(Finding("number-mismatch", key, message))
        path = replay_path(key)
        if cells["image"] != path:
            message = f"replay link {cells['image'] or '(none)'} is not the run's GIF {path}"
            findings.append(Finding("wrong-link", key, message))
            continue
        gif = reports / path
        if not gif.is_file():
            message = f"{gif} is missing: dvc repro replay-{key} (needs the run's weights)"
            findings.append(Finding("missing-replay", key, message))
            continue
        with gif.open("rb") as handle:
            if handle.read(6) not in GIF_MAGIC:
                findings.append(Finding("missing-replay", key, f"{gif} is not a GIF"))
    return findings


def _unfinished(run_dir: Path, suite: Suite) -> str:
    """Why a suite run has no summary: no run folder, or which of its seeds have trained."""
    seeds = trained_seeds(run_dir)
    if not seeds:
        return f"suite run has no run folder {run_dir}"
    return (
        f"suite run has not finished: seeds {', '.join(map(str, seeds))} of {suite.seeds} "
        f"trained in {run_dir}; train the other seed groups, then summarize (dvc repro)"
    )


def _run_held(run_dir: Path) -> str:
    """Which run a run folder holds, by its spec.json: "run <family>/<name>", or what is wrong."""
    try:
        family, name = RunFolder(run_dir).read_spec_names()
    except RlpipeError as exc:
        return f"no readable spec ({exc})"
    return f"run {family}/{name}"


def _check_plot_link(row: str, cell: str, expected: str, reports: Path) -> list[Finding]:
    """A row's plot link: the plot of the row's env, present and a PNG."""
    match = _PLOT_CELL.search(cell)
    if match is not None and match["path"] != expected:
        return [
            Finding("wrong-link", row, f"plot link {match['path']} is not this env's {expected}")
        ]
    return _check_plot(row, cell, reports)


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
    except RlpipeError as exc:
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


def _check_data(
    report_text: str,
    published: Mapping[str, Any],
    derived: Mapping[str, dict[str, Any]],
    reports: Path,
    whole: Mapping[str, Any],
    underived: Mapping[str, Collection[str]],
) -> list[Finding]:
    """benchmarks.json: written with this BENCHMARKS.md, the same rows, each field of each
    agreeing with its run (and so with the table, which is checked against the same runs), and
    its other fields (the suite, the aggregate) equal to `whole`'s, what the report writes.
    The fields `underived` names for a row (those the runs cannot give now) are not compared."""
    path = reports / DATA_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [Finding("data-mismatch", DATA_FILE, f"cannot read {path}: {exc}")]
    recorded = read_data_digest(report_text)
    if recorded is None:
        message = f"BENCHMARKS.md records no {DATA_FILE} digest: re-run rlpipe report"
        return [Finding("data-mismatch", DATA_FILE, message)]
    actual = hashlib.sha256(data).hexdigest()
    if recorded != actual:
        return [
            Finding(
                "data-mismatch",
                DATA_FILE,
                f"{path} (sha256 {actual[:12]}) is not the one BENCHMARKS.md was written with "
                f"({recorded[:12]}): re-run rlpipe report",
            )
        ]
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [Finding("data-mismatch", DATA_FILE, f"{path} is not JSON: {exc}")]
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not all(
        isinstance(row, dict) and isinstance(row.get("run"), str) for row in rows
    ):
        return [
            Finding("data-mismatch", DATA_FILE, f"{path} is not a list of rows, each with a run")
        ]
    saved = {row["run"]: row for row in rows}
    findings = [
        Finding("data-mismatch", key, f"the table has this row, {DATA_FILE} has not")
        for key in published.keys() - saved.keys()
    ] + [
        Finding("data-mismatch", key, f"{DATA_FILE} has this row, the table has not")
        for key in saved.keys() - published.keys()
    ]
    for key in saved.keys() & derived.keys():
        expected = as_stored(derived[key])
        fields = (saved[key].keys() | expected.keys()) - set(underived.get(key, ()))
        differing = sorted(f for f in fields if _differs(saved[key], expected, f))
        if differing:
            shown = ", ".join(
                f"{f} {saved[key].get(f)!r} (the run gives {expected.get(f)!r})" for f in differing
            )
            findings.append(Finding("data-mismatch", key, f"{DATA_FILE} says {shown}"))
    expected_document = as_stored(whole)
    for field in sorted(document.keys() - {"rows"}):
        if field not in expected_document and field != "aggregate":
            message = f"{DATA_FILE} has a field {field!r} that rlpipe report does not write"
            findings.append(Finding("data-mismatch", DATA_FILE, message))
    for field in sorted(expected_document):
        if _differs(document, expected_document, field):
            message = f"{DATA_FILE} {field} is not what the runs give: re-run rlpipe report"
            findings.append(Finding("data-mismatch", DATA_FILE, message))
    return findings


def as_stored(value: Any) -> Any:
    """A value as JSON stores it (lists, not tuples), to compare with a parsed file."""
    return json.loads(json.dumps(value))


def _differs(saved: Mapping[str, Any], expected: Mapping[str, Any], field: str) -> bool:
    return field not in saved or field not in expected or not _same(saved[field], expected[field])


def _same(saved: Any, expected: Any) -> bool:
    """Equal as JSON data, floats to 1e-9 relative: the last bits of a bootstrap mean may differ
    on another CPU, a forged number does not hide there."""
    if isinstance(saved, float) and isinstance(expected, float):
        both_nan = math.isnan(saved) and math.isnan(expected)
        return both_nan or math.isclose(saved, expected, rel_tol=1e-9, abs_tol=1e-12)
    if type(saved) is not type(expected):
        return False
    if isinstance(saved, dict):
        return saved.keys() == expected.keys() and all(_same(saved[k], expected[k]) for k in saved)
    if isinstance(saved, list):
        return len(saved) == len(expected) and all(map(_same, saved, expected))
    return bool(saved == expected)


def _check_dvc_lock(suite: Suite, paths: AuditPaths) -> list[Finding]:
    """dvc.yaml generated from the suite; run files as dvc.lock records them; no train stage
    whose code or spec changed since it ran (stale-stage)."""
    from rlpipe.stages import DVC_FILE, render_dvc_yaml, stage_status, train_stages

    dvc_file = paths.root / DVC_FILE
    if not dvc_file.is_file():
        if not ((paths.root / "dvc.lock").is_file() or (paths.root / "fingerprints").is_dir()):
            return []  # not a DVC project: runs trained by hand
        message = (
            f"the project has dvc.lock or fingerprints/ but no {DVC_FILE}: run rlpipe suite stages"
        )
        return [Finding("suite-mismatch", DVC_FILE, message), *_fingerprint_findings(suite, paths)]
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
        lock = Finding("dvc-lock-mismatch", "dvc.lock", str(exc))
        return [*findings, lock, *_fingerprint_findings(suite, paths)]
    for status in statuses:
        key = run_of.get(status.stage, status.stage)
        if status.never_ran:
            message = f"stage {status.stage} has never run: dvc.lock has no entry for it"
            findings.append(Finding("unrun-stage", key, f"{message} (dvc repro runs it)"))
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
    return findings + _fingerprint_findings(suite, paths)


def _fingerprint_findings(suite: Suite, paths: AuditPaths) -> list[Finding]:
    """stale-stage for each run whose train or eval code no longer does what its committed
    fingerprint says, read from the sources: DVC sees such a change only once the code stage
    has re-run, and an edit nobody re-ran must not pass the audit."""
    from rlpipe.stages import eval_code_name, fingerprint_drift, train_code_name

    drift = fingerprint_drift(suite, paths.root, paths.pipelines)
    findings = []
    for key in suite.runs:
        for kind, code_name in (
            ("train", train_code_name(suite, key, paths.pipelines)),
            ("eval", eval_code_name(suite, key, paths.pipelines)),
        ):
            if code_name in drift:
                changed = ", ".join(drift[code_name])
                findings.append(
                    Finding(
                        "stale-stage",
                        key,
                        f"its {kind} code ({code_name}) no longer does what "
                        f"fingerprints/{code_name}.json recorded: {changed} changed; "
                        f"dvc repro re-runs its {kind} stage",
                    )
                )
    return findings


def findings_json(findings: list[Finding]) -> str:
    """Findings as a JSON document for machines."""
    return json.dumps({"ok": not findings, "findings": [asdict(f) for f in findings]}, indent=2)
