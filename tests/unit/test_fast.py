"""The fast path: compiled updates match eager ones; the compile default follows the rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlpipe import fast
from rlpipe.algos.registry import build_agent
from rlpipe.buffers import Batch
from rlpipe.envs import EnvShapes
from rlpipe.errors import RlpipeError
from rlpipe.spec import resolve_spec

CPU = torch.device("cpu")
SMALL = ["algorithm.actor.hidden=[32, 32]", "algorithm.critic.hidden=[64, 64]"]
needs_compiler = pytest.mark.skipif(
    not fast.compile_supported(CPU)[0], reason="torch.compile on CPU needs a C++ compiler"
)


def _agent(fixture_pipelines, family: str, compile: bool):
    spec = resolve_spec(family, "pendulum", SMALL, fixture_pipelines).spec
    torch.manual_seed(0)
    agent = build_agent(spec, EnvShapes((3,), np.float32, False, 1), CPU)
    return fast.accelerate(agent, compile)


def _batch(n: int = 64) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch(
        obs=torch.randn(n, 3, generator=g),
        actions=torch.rand(n, 1, generator=g) * 2 - 1,
        rewards=torch.randn(n, generator=g),
        next_obs=torch.randn(n, 3, generator=g),
        terminated=(torch.rand(n, generator=g) < 0.1).float(),
    )


@needs_compiler
@pytest.mark.parametrize("family", ["crossq", "sac"])
def test_compiled_and_eager_updates_agree_to_float_tolerance(fixture_pipelines, family):
    eager, compiled = (
        _agent(fixture_pipelines, family, False),
        _agent(fixture_pipelines, family, True),
    )
    batch = _batch()
    for step in range(4):  # policy_delay 3 (CrossQ): the actor and alpha update on steps 0, 3
        torch.manual_seed(100 + step)
        stats_eager = eager.update(batch)
        torch.manual_seed(100 + step)
        stats_compiled = compiled.update(batch)
        assert stats_eager.keys() == stats_compiled.keys()
        for key in stats_eager:
            torch.testing.assert_close(stats_compiled[key], stats_eager[key], rtol=1e-4, atol=1e-5)
    for name, tensor in eager.state_dict(with_optimizers=False).items():
        if isinstance(tensor, dict):
            for sub, value in tensor.items():
                torch.testing.assert_close(
                    compiled.state_dict(with_optimizers=False)[name][sub], value, rtol=1e-4,
                    atol=1e-5, msg=f"{name}.{sub} differs",
                )  # fmt: skip
    # BatchRenorm running statistics moved the same way in both
    if family == "crossq":
        stats = eager.critics[0][0]
        assert stats.num_batches_tracked.item() == 4
        assert compiled.critics[0][0].num_batches_tracked.item() == 4


def test_compile_without_a_compiler_is_a_clear_error(fixture_pipelines, monkeypatch):
    monkeypatch.setattr(fast.shutil, "which", lambda _: None)
    with pytest.raises(RlpipeError, match=r"needs a C\+\+ compiler .* --no-compile"):
        _agent(fixture_pipelines, "crossq", True)


def test_planned_updates_count_frames_after_learning_starts_times_utd(fixture_pipelines):
    spec = resolve_spec("crossq", "hopper", ["max_frame=1e6"], fixture_pipelines).spec
    assert fast.planned_updates(spec) == 1_000_000 - spec.algorithm.learning_starts
    half = resolve_spec(
        "crossq", "hopper", ["max_frame=1e5", "algorithm.utd=0.5"], fixture_pipelines
    )
    assert fast.planned_updates(half.spec) == (100_000 - 1000) // 2  # learning_starts 1000


@needs_compiler
def test_compile_default_is_on_for_long_batch_renorm_runs_only_on_cpu(fixture_pipelines):
    crossq = resolve_spec("crossq", "hopper", [], fixture_pipelines).spec
    sac = resolve_spec("sac", "hopper", [], fixture_pipelines).spec
    ppo = resolve_spec("ppo", "hopper", [], fixture_pipelines).spec
    assert fast.compile_by_default(crossq, CPU, updates=995_000) is True
    assert fast.compile_by_default(sac, CPU, updates=995_000) is False
    assert fast.compile_by_default(crossq, CPU, updates=fast.MIN_UPDATES_TO_COMPILE - 1) is False
    assert fast.compile_by_default(crossq, CPU) is True  # steady state (rlpipe bench)
    assert fast.compile_by_default(ppo, CPU, updates=995_000) is False
