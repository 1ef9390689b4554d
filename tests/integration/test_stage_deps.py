"""A train stage's derived code dependencies hold every rlpipe module its training really imports.

Each case trains one seed for a few hundred frames in a fresh interpreter that imports only what
`rlpipe train`'s seed worker needs, then lists the rlpipe modules loaded: none may be missing from
the stage's dependencies (or be a declared bookkeeping module), or an edit to it would leave the
rows it changes marked up to date.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rlpipe.codedeps import module_file
from rlpipe.stages import BOOKKEEPING, PEER_ROOTS, TRAIN_ROOTS, agent_module, code_deps
from tests.conftest import REPO
from tests.integration.test_smoke_specs import SMOKE

SCRIPT = """
import json, sys
from pathlib import Path
import torch
from rlpipe.loops import SeedJob
from rlpipe.rundir import RunFolder
from rlpipe.spec.load import resolve_spec

family, name, overrides, out, peer = json.loads(sys.argv[1])
spec = resolve_spec(family, name, overrides, Path("pipelines")).spec
job = SeedJob(RunFolder(out).seed(0), torch.device("cpu"))
if peer:
    from rlpipe.peers.train import train_peer_seed as train
else:
    from rlpipe.loops import train_seed as train
train(spec, job)
print(json.dumps(sorted(m for m in sys.modules if m == "rlpipe" or m.startswith("rlpipe."))))
"""
CASES = [
    ("crossq", "pendulum", False),
    ("sac", "pendulum", False),
    ("dqn", "cartpole", False),
    ("ppo", "cartpole", False),
    ("a2c", "cartpole", False),
    ("crossq", "pendulum", True),
]


def imported_by_training(family: str, name: str, peer: bool, out) -> set[str]:
    argument = json.dumps([family, name, SMOKE[family], str(out), peer])
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, argument],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    return {module_file(m, REPO).relative_to(REPO).as_posix() for m in modules}


@pytest.mark.parametrize(
    "family,name,peer", CASES, ids=[f"{f}-{n}{'-sb3' * p}" for f, n, p in CASES]
)
def test_every_module_a_training_seed_imports_is_a_dependency_of_its_stage(
    tmp_path, family, name, peer
):
    if peer:
        pytest.importorskip("sb3_contrib")
    deps = code_deps(*PEER_ROOTS) if peer else code_deps(*TRAIN_ROOTS, agent_module(family))
    imported = imported_by_training(family, name, peer, tmp_path / "run")
    assert imported - set(deps) - set(BOOKKEEPING) == set()
    assert (f"rlpipe/algos/{family}.py" in imported) is not peer  # a twin needs no rlpipe agent
