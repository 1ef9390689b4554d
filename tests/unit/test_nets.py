"""BatchRenorm against its formulas, MLP layouts, and the Nature CNN encoder."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rlpipe.algos.nets.batchrenorm import BatchRenorm
from rlpipe.algos.nets.cnn import NatureCNN
from rlpipe.algos.nets.mlp import mlp, orthogonal_init_
from rlpipe.algos.nets.precision import FloatLayerNorm

EPS = 1e-3


def plain_batch_norm(x: torch.Tensor) -> torch.Tensor:
    """Batch norm over dim 0 with the biased batch variance, computed independently."""
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    return (x - mean) / torch.sqrt(var + EPS)


def batch_renorm_by_hand(
    x: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    r_max: float,
    d_max: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (x_hat, r, d) of Ioffe's renormalisation, written out step by step."""
    mean = x.mean(dim=0)
    std = torch.sqrt(((x - mean) ** 2).mean(dim=0) + EPS)
    running_std = torch.sqrt(running_var + EPS)
    r = torch.clamp(std / running_std, 1 / r_max, r_max)
    d = torch.clamp((mean - running_mean) / running_std, -d_max, d_max)
    return (x - mean) / std * r + d, r, d


def test_batch_renorm_warmup_is_plain_batch_norm_with_affine() -> None:
    torch.manual_seed(0)
    brn = BatchRenorm(3, warmup_steps=5).double()
    with torch.no_grad():
        brn.running_mean.fill_(7.0)  # far from the batch: r and d would matter after warm-up
        brn.running_var.fill_(0.01)
        brn.weight.copy_(torch.tensor([2.0, -1.0, 0.5]))
        brn.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    x = torch.randn(16, 3, dtype=torch.float64) * 4 + 1

    out = brn(x)

    expected = torch.tensor([2.0, -1.0, 0.5]) * plain_batch_norm(x) + torch.tensor([0.1, 0.2, 0.3])
    torch.testing.assert_close(out, expected.double(), rtol=0, atol=1e-12)


def test_batch_renorm_clamps_r_and_d_after_warmup() -> None:
    brn = BatchRenorm(4, warmup_steps=0).double()  # running stats: mean 0, var 1
    x = torch.tensor(
        [
            [-10.0, 99.99, -1.0, -50.0],
            [10.0, 100.01, 2.0, -50.0],
            [-10.0, 99.99, -1.0, -50.0],
            [10.0, 100.01, 2.0, -50.0],
        ],
        dtype=torch.float64,
    )
    # Feature 0: std 10 -> r = 10 / sqrt(1.001) clamps to 3; mean 0 -> d = 0.
    # Feature 1: std 0.01 -> r clamps to 1/3; mean 100 -> d clamps to 5.
    # Feature 2: std 1.5, mean 0.5 -> neither clamps.
    # Feature 3: constant -50 -> r clamps to 1/3; d clamps to -5.
    running_std = math.sqrt(1.0 + EPS)
    expected_r = torch.tensor(
        [3.0, 1 / 3, math.sqrt(2.25 + EPS) / running_std, 1 / 3], dtype=torch.float64
    )
    expected_d = torch.tensor([0.0, 5.0, 0.5 / running_std, -5.0], dtype=torch.float64)
    no_shift, unit_var = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    _, r, d = batch_renorm_by_hand(x, no_shift, unit_var, r_max=3.0, d_max=5.0)
    torch.testing.assert_close(r, expected_r, rtol=0, atol=1e-12)
    torch.testing.assert_close(d, expected_d, rtol=0, atol=1e-12)

    out = brn(x)

    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + EPS) * expected_r
    torch.testing.assert_close(out, expected + expected_d, rtol=0, atol=1e-9)
    assert not torch.allclose(out, plain_batch_norm(x), atol=1e-3)


def test_batch_renorm_switches_to_renorm_exactly_at_warmup_steps() -> None:
    torch.manual_seed(1)
    brn = BatchRenorm(2, momentum=0.5, warmup_steps=2, r_max=1.5, d_max=0.5).double()
    x = torch.randn(8, 2, dtype=torch.float64) * 3 + 2

    first, second = brn(x), brn(x)
    running_mean, running_var = brn.running_mean.clone(), brn.running_var.clone()
    third = brn(x)

    torch.testing.assert_close(first, plain_batch_norm(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(second, plain_batch_norm(x), rtol=0, atol=1e-12)
    expected, _, d = batch_renorm_by_hand(x, running_mean, running_var, r_max=1.5, d_max=0.5)
    torch.testing.assert_close(third, expected, rtol=0, atol=1e-12)
    assert torch.all(d.abs() > 0.1)  # the switch is visible in the output
    assert not torch.allclose(third, plain_batch_norm(x), atol=1e-2)


def test_batch_renorm_eval_normalises_with_running_stats_and_leaves_them_alone() -> None:
    brn = BatchRenorm(2, warmup_steps=0)
    with torch.no_grad():
        brn.running_mean.copy_(torch.tensor([1.0, -2.0]))
        brn.running_var.copy_(torch.tensor([4.0, 0.25]))
        brn.weight.copy_(torch.tensor([3.0, 0.5]))
        brn.bias.copy_(torch.tensor([-1.0, 1.0]))
    brn.eval()
    x = torch.tensor([[1.0, -2.0], [3.0, 0.0], [5.0, 10.0]])

    out = brn(x)

    std = torch.sqrt(torch.tensor([4.0, 0.25]) + EPS)
    expected = torch.tensor([3.0, 0.5]) * (x - torch.tensor([1.0, -2.0])) / std + torch.tensor(
        [-1.0, 1.0]
    )
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out[0], torch.tensor([-1.0, 1.0]))
    assert torch.equal(brn.running_mean, torch.tensor([1.0, -2.0]))
    assert torch.equal(brn.running_var, torch.tensor([4.0, 0.25]))
    assert brn.num_batches_tracked.item() == 0


def test_batch_renorm_running_stats_follow_pytorch_momentum_0_01_with_unbiased_var() -> None:
    brn = BatchRenorm(2).double()
    x1 = torch.tensor([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]], dtype=torch.float64)
    x2 = torch.tensor([[-4.0, 0.0], [0.0, 2.0]], dtype=torch.float64)

    brn(x1)
    # mean (3, 30); unbiased var (4, 700)
    torch.testing.assert_close(brn.running_mean, torch.tensor([0.03, 0.3], dtype=torch.float64))
    torch.testing.assert_close(
        brn.running_var, torch.tensor([0.99 + 0.04, 0.99 + 7.0], dtype=torch.float64)
    )
    brn(x2)
    # mean (-2, 1); unbiased var (8, 2)
    torch.testing.assert_close(
        brn.running_mean,
        torch.tensor([0.99 * 0.03 - 0.02, 0.99 * 0.3 + 0.01], dtype=torch.float64),
    )
    torch.testing.assert_close(
        brn.running_var,
        torch.tensor([0.99 * 1.03 + 0.08, 0.99 * 7.99 + 0.02], dtype=torch.float64),
    )


def test_batch_renorm_warmup_matches_torch_batchnorm_outputs_stats_and_grads() -> None:
    torch.manual_seed(2)
    brn = BatchRenorm(5, momentum=0.01, eps=EPS)
    bn = nn.BatchNorm1d(5, momentum=0.01, eps=EPS)
    x = torch.randn(32, 5) * 2 + 3
    x_brn, x_bn = x.clone().requires_grad_(), x.clone().requires_grad_()
    upstream = torch.randn(32, 5)

    out_brn, out_bn = brn(x_brn), bn(x_bn)
    (out_brn * upstream).sum().backward()
    (out_bn * upstream).sum().backward()

    torch.testing.assert_close(out_brn, out_bn)
    torch.testing.assert_close(brn.running_mean, bn.running_mean)
    torch.testing.assert_close(brn.running_var, bn.running_var)
    torch.testing.assert_close(x_brn.grad, x_bn.grad)
    torch.testing.assert_close(brn.weight.grad, bn.weight.grad)
    torch.testing.assert_close(brn.bias.grad, bn.bias.grad)


def test_batch_renorm_gradients_flow_through_batch_stats_but_not_r_and_d() -> None:
    torch.manual_seed(3)
    brn = BatchRenorm(3, warmup_steps=0)
    with torch.no_grad():
        brn.running_mean.fill_(20.0)  # d = clamp((mean - 20) / ~1, -5, 5) = -5
    x = (torch.randn(10, 3) * 5).requires_grad_()

    brn(x).sum().backward()

    # Each column of (x - mean) / std * r sums to zero for any x, so with batch stats in the
    # graph and r, d constants the input gradient vanishes; the bias sees every row.
    torch.testing.assert_close(x.grad, torch.zeros(10, 3), rtol=0, atol=1e-5)
    torch.testing.assert_close(brn.bias.grad, torch.full((3,), 10.0))
    torch.testing.assert_close(brn.weight.grad, torch.full((3,), -50.0))  # sum of d over rows


def test_batch_renorm_input_gradient_treats_r_and_d_as_constants() -> None:
    torch.manual_seed(8)
    brn = BatchRenorm(3, warmup_steps=0).double()
    with torch.no_grad():
        brn.running_mean.fill_(0.5)
        brn.running_var.fill_(2.0)
    x = (torch.randn(12, 3, dtype=torch.float64) * 1.2).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    upstream = torch.randn(12, 3, dtype=torch.float64)

    running_mean, running_var = brn.running_mean.clone(), brn.running_var.clone()

    (brn(x) * upstream).sum().backward()
    _, r, d = batch_renorm_by_hand(x_ref, running_mean, running_var, 3.0, 5.0)
    assert torch.all((r > 1 / 3) & (r < 3) & (d.abs() < 5))  # unclamped: r, d have gradients

    mean = x_ref.mean(0)
    std = torch.sqrt(((x_ref - mean) ** 2).mean(0) + EPS)
    ((((x_ref - mean) / std * r.detach() + d.detach()) * upstream).sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-12)


def test_batch_renorm_cross_batch_uses_stats_of_the_concatenation() -> None:
    torch.manual_seed(4)
    brn = BatchRenorm(3)
    x1 = torch.randn(64, 3)
    x2 = torch.randn(64, 3) * 3 + 5
    both = torch.cat([x1, x2])

    out = brn(both)

    torch.testing.assert_close(out, plain_batch_norm(both))
    assert not torch.allclose(out[:64], plain_batch_norm(x1), atol=1e-2)
    assert not torch.allclose(out[64:], plain_batch_norm(x2), atol=1e-2)
    torch.testing.assert_close(brn.running_mean, 0.01 * both.mean(0))
    torch.testing.assert_close(brn.running_var, 0.99 + 0.01 * both.var(0, unbiased=True))


def test_batch_renorm_counts_train_batches_only() -> None:
    brn = BatchRenorm(2)
    x = torch.randn(4, 2)
    for _ in range(3):
        brn(x)
    brn.eval()
    brn(x)

    assert brn.num_batches_tracked.dtype == torch.long
    assert brn.num_batches_tracked.item() == 3


def test_batch_renorm_state_dict_round_trip_restores_eval_outputs_bit_for_bit() -> None:
    torch.manual_seed(5)
    brn = BatchRenorm(4, warmup_steps=2)
    for _ in range(5):
        brn(torch.randn(16, 4) * 2 + 1)
    with torch.no_grad():
        brn.weight.mul_(1.7)
    state = brn.state_dict()

    restored = BatchRenorm(4, warmup_steps=2)
    restored.load_state_dict(state)
    x = torch.randn(8, 4)

    assert set(state) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    assert restored.num_batches_tracked.item() == 5
    assert torch.equal(brn.eval()(x), restored.eval()(x))


def test_batch_renorm_rejects_single_sample_in_train_mode() -> None:
    with pytest.raises(ValueError, match="more than 1 sample"):
        BatchRenorm(3)(torch.randn(1, 3))


def test_batch_renorm_compiles_without_graph_breaks() -> None:
    torch.manual_seed(6)
    eager, compiled_module = BatchRenorm(3, warmup_steps=1), BatchRenorm(3, warmup_steps=1)
    compiled = torch.compile(compiled_module, fullgraph=True, backend="eager")
    batches = [torch.randn(8, 3) * 2 + 1 for _ in range(3)]

    for x in batches:  # crosses the warm-up boundary inside the compiled graph
        torch.testing.assert_close(compiled(x), eager(x))
    torch.testing.assert_close(compiled_module.running_var, eager.running_var)
    assert compiled_module.num_batches_tracked.item() == 3


def layer_types(net: nn.Sequential) -> list[type[nn.Module]]:
    return [type(layer) for layer in net]


def test_mlp_without_norm_is_linear_act_then_linear() -> None:
    net = mlp(5, 2, [16, 8], activation="tanh")

    assert layer_types(net) == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [(m.in_features, m.out_features) for m in net if isinstance(m, nn.Linear)] == [
        (5, 16),
        (16, 8),
        (8, 2),
    ]
    assert net(torch.randn(3, 5)).shape == (3, 2)


def test_mlp_layer_norm_goes_between_linear_and_activation() -> None:
    net = mlp(5, 1, [16, 8], activation="silu", norm="layer")

    assert layer_types(net) == [nn.Linear, FloatLayerNorm, nn.SiLU] * 2 + [nn.Linear]
    assert [m.normalized_shape for m in net if isinstance(m, nn.LayerNorm)] == [(16,), (8,)]


def test_mlp_batch_renorm_is_crossq_critic_layout_with_kwargs() -> None:
    renorm = {"momentum": 0.05, "eps": 1e-4, "r_max": 2.0, "d_max": 4.0, "warmup_steps": 7}
    net = mlp(6, 1, [32, 32], norm="batch_renorm", renorm=renorm)

    assert layer_types(net) == [BatchRenorm] + [nn.Linear, nn.ReLU, BatchRenorm] * 2 + [nn.Linear]
    renorms = [m for m in net if isinstance(m, BatchRenorm)]
    assert [m.num_features for m in renorms] == [6, 32, 32]
    for m in renorms:
        assert (m.momentum, m.eps, m.r_max, m.d_max, m.warmup_steps) == (0.05, 1e-4, 2.0, 4.0, 7)
    assert net(torch.randn(4, 6)).shape == (4, 1)


@pytest.mark.parametrize(
    ("name", "cls"),
    [("relu", nn.ReLU), ("tanh", nn.Tanh), ("elu", nn.ELU), ("gelu", nn.GELU), ("silu", nn.SiLU)],
)
def test_mlp_activation_names_map_to_modules(name: str, cls: type[nn.Module]) -> None:
    assert layer_types(mlp(2, 2, [4], activation=name))[1] is cls


def test_mlp_unknown_activation_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        mlp(2, 2, [4], activation="sigmoid")


def test_mlp_unknown_norm_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        mlp(2, 2, [4], norm="group")


def test_nature_cnn_maps_uint8_frames_to_512_features_scaled_by_255() -> None:
    torch.manual_seed(7)
    cnn = NatureCNN()
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)

    features = cnn(frames)

    assert cnn.out_dim == 512
    assert features.shape == (2, 512)
    assert features.dtype == torch.float32
    torch.testing.assert_close(features, cnn.net(frames.float() / 255.0))
    assert torch.all(features >= 0)


def test_orthogonal_init_gives_orthogonal_rows_scaled_by_gain_and_constant_bias() -> None:
    net = orthogonal_init_(nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)), 2.0, 0.5)

    for layer in (net[0], net[2]):
        gram = layer.weight @ layer.weight.T
        torch.testing.assert_close(gram, 4.0 * torch.eye(layer.out_features))
        assert torch.all(layer.bias == 0.5)
