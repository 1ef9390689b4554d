"""The report's Parity section: each parity run (a peer library's twin of a spec) against
rlpipe's own run of that spec, by `rlpipe compare`'s statistics (rlpipe.comparison)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlpipe.algos.registry import display_name
from rlpipe.comparison import compare, read_scores
from rlpipe.report.markdown import table_section
from rlpipe.rundir import RunFolder
from rlpipe.spec.suite import Suite

HEADING = "## Parity"
COLUMNS = (
    "Env",
    "Algorithm",
    "rlpipe",
    "Peer",
    "Δ mean (95% CI)",
    "Δ IQM (95% CI)",
    "P(rlpipe > peer) (95% CI)",
    "Verdict",
)


def parity_result(key: str, suite: Suite, runs_root: Path) -> dict[str, Any] | None:
    """rlpipe's run against a parity run `key`: the differences (rlpipe minus peer) of the
    per-seed scores' means and IQMs and the probability of improvement, each with its 95%
    stratified-bootstrap CI; None unless both runs have finished."""
    run = suite.runs[key]
    own = f"{run.family}-{run.spec}"
    if run.peer is None or own not in suite.runs:
        return None
    own_dir, peer_dir = Path(runs_root) / own, Path(runs_root) / key
    if not (RunFolder(own_dir).finished() and RunFolder(peer_dir).finished()):
        return None
    peer = read_scores(peer_dir, "score", key)
    result = compare(peer, read_scores(own_dir, "score", own))

    def interval(value: Any) -> list[float]:
        return [value.value, value.low, value.high]

    return {
        "rlpipe_run": own,
        "mean_difference": interval(result.mean_difference),
        "iqm_difference": interval(result.iqm_difference),
        "improvement_probability": interval(result.improvement_probability),
        "verdict": result.verdict,
    }


def _interval(values: list[float], signed: bool = True) -> str:
    value, low, high = values
    form = "+.1f" if signed else ".2f"
    return f"{value:{form}} [{low:{form}}, {high:{form}}]"


def parity_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The Parity heading, what it shows, and one table line per parity run with a result."""
    pairs = [row for row in rows if row.get("parity")]
    if not pairs:
        return []
    intro = (
        "Each parity run against rlpipe's run of the same spec and seeds (`rlpipe compare`): "
        "the difference of the per-seed scores (rlpipe minus the peer) in mean and IQM, and the "
        "probability that an rlpipe seed scores above a peer seed, each with its 95% "
        "stratified-bootstrap confidence interval (10,000 resamples, seed 0)."
    )
    cells = [
        [
            row["env"],
            display_name(row["family"]),
            f"runs/{row['parity']['rlpipe_run']}",
            f"runs/{row['run']} ({row.get('peer') or 'peer'})",
            _interval(row["parity"]["mean_difference"]),
            _interval(row["parity"]["iqm_difference"]),
            _interval(row["parity"]["improvement_probability"], signed=False),
            row["parity"]["verdict"],
        ]
        for row in pairs
    ]
    return table_section(HEADING, intro, COLUMNS, cells)
