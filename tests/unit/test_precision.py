"""bf16 matmuls (algorithm.precision): what runs in bf16, what stays fp32, and the spec hash."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlpipe.algos.nets.batchrenorm import BatchRenorm
from rlpipe.algos.nets.mlp import mlp
from rlpipe.algos.nets.precision import FloatLayerNorm, set_precision
from rlpipe.algos.registry import build_agent
from rlpipe.spec import resolve_spec
from rlpipe.spec.load import hash_document
from tests.unit.test_algos import CONTINUOUS, DISCRETE, agent_for, batch_for

DQN_SMALL = ["algorithm.q_net.hidden=[32]", "algorithm.batch_size=16"]


def output_dtypes(
    module: nn.Module, kind: type[nn.Module] | tuple[type[nn.Module], ...]
) -> list[torch.dtype]:
    """Record the output dtype of every call of a `kind` layer inside module (a Linear's is the
    dtype it multiplied in)."""
    seen: list[torch.dtype] = []
    for layer in module.modules():
        if isinstance(layer, kind):
            layer.register_forward_hook(lambda _, __, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize("norm", ["none", "layer", "batch_renorm"])
def test_a_bf16_mlp_multiplies_in_bf16_normalises_in_fp32_and_returns_fp32(norm):
    net = mlp(5, 2, [16, 16], norm=norm)
    set_precision("bf16", net)
    matmuls = output_dtypes(net, nn.Linear)
    norms = output_dtypes(net, (BatchRenorm, FloatLayerNorm))
    out = net(torch.randn(8, 5))
    assert out.dtype == torch.float32
    assert matmuls and set(matmuls) == {torch.bfloat16}
    assert set(norms) <= {torch.float32} and (norm == "none") == (not norms)
    for layer in net.modules():
        if isinstance(layer, BatchRenorm):
            assert layer.running_mean.dtype == layer.running_var.dtype == torch.float32
        if isinstance(layer, FloatLayerNorm):
            assert layer.weight.dtype == torch.float32


def test_layer_norm_statistics_are_fp32_under_autocast():
    norm = FloatLayerNorm(16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = norm(torch.randn(4, 16).bfloat16())
    assert out.dtype == torch.float32


def test_fp32_networks_are_left_as_they_were():
    torch.manual_seed(0)
    net = mlp(5, 2, [16], norm="batch_renorm")
    matmuls = output_dtypes(net, nn.Linear)
    net(torch.randn(8, 5))
    assert set(matmuls) == {torch.float32}


@pytest.mark.parametrize(
    "family,shapes", [("crossq", CONTINUOUS), ("sac", DISCRETE), ("dqn", DISCRETE)]
)
def test_a_bf16_agent_keeps_weights_optimiser_state_and_losses_fp32(
    fixture_pipelines, family, shapes
):
    if family == "dqn":
        spec = resolve_spec(
            "dqn", "cartpole", [*DQN_SMALL, "algorithm.precision=bf16"], fixture_pipelines
        )
        agent = build_agent(spec.spec, shapes, torch.device("cpu"))
        nets = [agent.q_net]
    else:
        agent = agent_for(fixture_pipelines, family, shapes, ["algorithm.precision=bf16"])
        nets = [agent.actor, agent.critics]
    matmuls = output_dtypes(nn.ModuleList(nets), nn.Linear)
    batch = batch_for(shapes, n=16)
    for _ in range(3):
        stats = agent.update(batch)
    assert set(matmuls) == {torch.bfloat16}
    assert all(value.dtype == torch.float32 for value in stats.values())
    assert all(torch.isfinite(value).all() for value in stats.values())
    for net in nets:
        assert {p.dtype for p in net.parameters()} == {torch.float32}
    optimizer = agent.optimizer if family == "dqn" else agent.critic_optimizer
    moments = [s["exp_avg"].dtype for s in optimizer.state.values()]
    assert moments and set(moments) == {torch.float32}


def test_a_bf16_agent_acts_in_the_envs_units(fixture_pipelines):
    agent = agent_for(fixture_pipelines, "crossq", CONTINUOUS, ["algorithm.precision=bf16"])
    actions = agent.act(batch_for(CONTINUOUS).obs.numpy(), deterministic=True)
    assert actions.dtype.name == "float32" and abs(actions).max() <= 1.0


def test_fp32_is_left_out_of_the_resolved_spec_so_older_specs_hash_as_before(fixture_pipelines):
    fp32 = resolve_spec("crossq", "pendulum", [], fixture_pipelines)
    explicit = resolve_spec("crossq", "pendulum", ["algorithm.precision=fp32"], fixture_pipelines)
    bf16 = resolve_spec("crossq", "pendulum", ["algorithm.precision=bf16"], fixture_pipelines)
    document = fp32.spec.model_dump(mode="json")
    assert "precision" not in document["algorithm"]
    assert fp32.spec_hash == explicit.spec_hash == hash_document(document)
    assert bf16.spec.model_dump(mode="json")["algorithm"]["precision"] == "bf16"
    assert bf16.spec_hash != fp32.spec_hash


def test_an_unknown_precision_is_an_error_naming_the_choices(fixture_pipelines):
    from rlpipe.errors import RlpipeError

    with pytest.raises(RlpipeError, match=r"algorithm\.precision.*'fp32'.*'bf16'"):
        resolve_spec("ppo", "cartpole", ["algorithm.precision=fp16"], fixture_pipelines)
