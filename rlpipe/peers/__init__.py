"""Peer libraries: a spec trained by another library's own implementation, for parity rows.

`mirror.py` says what of a spec a peer can mirror (and names the field it cannot), without
importing the peer; `sb3.py` builds the Stable-Baselines3 / sb3-contrib twin of a spec (shared
with `rlpipe bench --vs sb3`); `train.py` trains one seed of the twin into an ordinary run folder
and evaluates it with rlpipe's own evaluation protocol.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from rlpipe.errors import RlpipeError
from rlpipe.rundir import RunFolder

PEERS = {"sb3": "Stable-Baselines3 / sb3-contrib"}
"""Peer name (as the suite file and --peer write it) -> the libraries it stands for."""
_PEER_PACKAGES = ("stable_baselines3", "sb3_contrib")


def check_peer(name: str) -> None:
    """Raise RlpipeError unless `name` is a known peer."""
    if name not in PEERS:
        known = ", ".join(f"{key} ({libraries})" for key, libraries in PEERS.items())
        raise RlpipeError(f"unknown peer {name!r}; known: {known}")


def import_peer_module(module: str) -> ModuleType:
    """Import a module of rlpipe.peers that needs the peer libraries; a missing one is an
    RlpipeError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name not in _PEER_PACKAGES:
            raise
        raise RlpipeError(
            f"the peer twin needs Stable-Baselines3 and sb3-contrib ({exc.name} is missing): "
            'pip install -e ".[bench]"'
        ) from None


def trained_by_peer(run: RunFolder) -> str | None:
    """The peer that trained a run (from its provenance.json), None for rlpipe's own runs."""
    if not run.provenance_file.exists():
        return None
    peer = run.read_provenance().get("peer")
    return peer.get("name") if isinstance(peer, dict) else None
