"""The online half of `rlpipe audit --online`: the runs the report links on the Hub, checked
against the Hub itself.

The offline audit (rlpipe.report.audit) checks every link against the local runs and names
the rows whose Hub link it accepted (`HubRun`); each of those must be in the suite's repo
(else missing-run) with a model card that states the local run: its numbers, spec hash,
model-index and the sha256 of each listed file the local run folder holds (else card-mismatch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rlpipe.errors import RlpipeError
from rlpipe.hub.card import card_differences, read_card
from rlpipe.hub.client import fetch_card, remote_run_exists
from rlpipe.report.audit import Finding, HubRun
from rlpipe.rundir import CARD_FILE, RunFolder

RemoteExists = Callable[[str, str], bool]
"""(repo, run) -> whether the run is in the repo; raises RlpipeError if the Hub cannot say."""
FetchCard = Callable[[str, str], str | None]
"""(repo, run) -> the text of the run's card, None if it has none."""


def check_hub_runs(
    repo: str,
    hub_runs: Iterable[HubRun],
    remote_exists: RemoteExists | None = None,
    fetch: FetchCard | None = None,
) -> list[Finding]:
    """The Hub findings for the runs the report links in `repo` (the suite's hub_repo):
    missing-run for one not on the Hub (or when the Hub cannot be asked), card-mismatch for a
    card that is missing or states something else than the local run. `remote_exists` and
    `fetch` stand in for the Hub (default: the endpoint and token of the environment)."""
    exists = remote_exists or _remote_exists
    findings: list[Finding] = []
    for run in hub_runs:
        try:
            found = exists(repo, run.key)
        except RlpipeError as exc:
            findings.append(Finding("missing-run", run.key, f"could not check {run.link}: {exc}"))
            continue
        if not found:
            findings.append(Finding("missing-run", run.key, f"{run.link} is not on the Hub"))
            continue
        findings += check_card(run, repo, fetch or fetch_card)
    return findings


def _remote_exists(repo: str, run: str) -> bool:
    return remote_run_exists(repo, run)


def check_card(run: HubRun, repo: str, fetch: FetchCard) -> list[Finding]:
    """The published model card of a run against the local run: its numbers, spec hash and
    model-index, and the sha256 of each listed file that the local run folder holds."""
    key, run_dir = run.key, run.run_dir
    source = f"{repo}: runs/{key}/{CARD_FILE}"
    try:
        text = fetch(repo, key)
        if text is None:
            message = f"{source} is missing: publish the run again with rlpipe publish"
            return [Finding("card-mismatch", key, message)]
        metadata, facts = read_card(text, source)
        if facts.run != key:
            return [Finding("card-mismatch", key, f"{source} is the card of run {facts.run}")]
        local = {path: run_dir / path for path in facts.files if (run_dir / path).is_file()}
        differences = card_differences(metadata, facts, RunFolder(run_dir), local)
    except RlpipeError as exc:
        return [Finding("card-mismatch", key, f"could not check {source}: {exc}")]
    return [Finding("card-mismatch", key, f"{source}: {found}") for found in differences]
