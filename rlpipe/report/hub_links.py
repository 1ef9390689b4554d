"""reports/hub.json, the report's links to runs published on the Hub, as data.

`rlpipe publish` (rlpipe.hub) records each published run's URL here; `rlpipe report` links a
row to it, and `rlpipe audit` checks that a row's Hub link is the URL its run has in the
suite's repo. Nothing here reaches the Hub: the URL of a published run is a pure function of
the endpoint, the repo and the run name.
"""

from __future__ import annotations

import os
from pathlib import Path

from rlpipe.errors import RlpipeError
from rlpipe.rundir import read_json

DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_LINKS_FILE = "hub.json"
"""reports/hub.json: {run_key: url of the published run folder}, read by report and audit."""
REVISION = "main"
"""The branch of the dataset repo that runs are published to and linked at."""


def resolve_endpoint(endpoint: str | None = None) -> str:
    """Return the Hub endpoint: `endpoint`, else $HF_ENDPOINT, else https://huggingface.co."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def run_url(repo_id: str, run_key: str, endpoint: str | None = None) -> str:
    """Return the browsable URL of a published run folder in the dataset repo."""
    return f"{resolve_endpoint(endpoint)}/datasets/{repo_id}/tree/{REVISION}/runs/{run_key}"


def read_hub_links(reports_dir: Path = Path("reports")) -> dict[str, str]:
    """Return reports/hub.json as {run_key: Hub URL}, {} if the file does not exist."""
    path = Path(reports_dir) / HUB_LINKS_FILE
    if not path.exists():
        return {}
    links = read_json(path, "fix it or delete it (rlpipe publish writes it again)")
    if not isinstance(links, dict) or not all(
        isinstance(key, str) and isinstance(url, str) for key, url in links.items()
    ):
        raise RlpipeError(f"{path} should map run names to URLs; fix it or delete it")
    return links
