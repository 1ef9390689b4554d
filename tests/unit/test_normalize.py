"""The running observation normaliser: its CPU update in numpy equals its torch update (the one
it runs on other devices) exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlpipe.algos.normalize import ObsNormalizer


@pytest.mark.parametrize("shape,batch", [((11,), 1), ((11,), 8), ((), 1), ((), 16), ((2, 3), 4)])
def test_the_cpu_update_is_bit_identical_to_the_torch_update(shape, batch):
    rng = np.random.default_rng(0)
    ours, reference = ObsNormalizer(shape), ObsNormalizer(shape)
    for step in range(200):
        obs = (rng.normal(size=(batch, *shape)) * (1 + step % 7) + step).astype(np.float32)
        ours.update(obs)
        reference._update_in_torch(torch.as_tensor(obs))  # the path off the CPU
    for name in ("mean", "var", "count"):
        assert torch.equal(getattr(ours, name), getattr(reference, name)), name
    x = torch.as_tensor(rng.normal(size=(5, *shape)), dtype=torch.float32)
    assert torch.equal(ours(x), reference(x))


def test_statistics_are_those_of_all_observations_at_once():
    rng = np.random.default_rng(1)
    observations = rng.normal(3.0, 2.0, size=(300, 4))
    norm = ObsNormalizer((4,))
    for start, end in ((0, 1), (1, 9), (9, 50), (50, 170), (170, 300)):  # uneven batches
        norm.update(observations[start:end])
    assert torch.allclose(norm.mean, torch.as_tensor(observations.mean(0)), atol=1e-9)
    assert torch.allclose(norm.var, torch.as_tensor(observations.var(0)), atol=1e-6)
    assert float(norm.count) == pytest.approx(300, abs=1e-6)


def test_normalised_observations_are_clipped_in_the_input_dtype_and_survive_a_round_trip():
    norm = ObsNormalizer((2,), clip=5.0)
    norm.update(np.array([[0.0, 1.0], [2.0, 3.0]]))
    out = norm(torch.tensor([[1e6, -1e6]], dtype=torch.float32))
    assert out.dtype == torch.float32 and out.tolist() == [[5.0, -5.0]]
    copy = ObsNormalizer((2,), clip=5.0)
    copy.load_state_dict(norm.state_dict())
    copy.update(np.ones((1, 2)))
    norm.update(np.ones((1, 2)))
    assert torch.equal(copy.mean, norm.mean) and torch.equal(copy.var, norm.var)
