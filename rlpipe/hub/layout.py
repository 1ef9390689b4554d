"""What a published run holds: the files of runs/<run_key>/ that rlpipe publish uploads and
rlpipe pull accepts, one list for both (a file one of them allows and the other refuses would
make a published run impossible to pull)."""

from __future__ import annotations

import re

from rlpipe.rundir.folder import (
    CURVE_FILE,
    EVAL_FILE,
    GROUPS_DIR,
    METRICS_FILE,
    MODEL_FILE,
    PROVENANCE_FILE,
    REPLAY_FILE,
    RESULT_FILE,
    SPEC_FILE,
    SUMMARY_FILE,
)

RUN_FILE_PATTERNS = (
    re.compile(rf"^({SPEC_FILE}|{PROVENANCE_FILE}|{SUMMARY_FILE}|{EVAL_FILE})$"),
    re.compile(rf"^{GROUPS_DIR}/seeds(-[0-9]+)+\.json$"),
    re.compile(rf"^seed-[0-9]+/({METRICS_FILE}|{RESULT_FILE}|{MODEL_FILE})$"),
    re.compile(rf"^({CURVE_FILE}|{REPLAY_FILE})$"),
)
"""What rlpipe publish uploads for a run: its records, seed files, weights, curve and replay."""


def is_run_file(name: str) -> bool:
    """Whether a file name (relative to runs/<key>/) is one rlpipe publish uploads."""
    return any(pattern.match(name) for pattern in RUN_FILE_PATTERNS)
