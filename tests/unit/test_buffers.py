"""Replay buffer ring writes, sampling and checkpoints; rollout buffer GAE and minibatches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlpipe.buffers import Batch, ReplayBuffer, RolloutBuffer

NUM_ENVS = 2


def transition_step(first_item: int, num_envs: int = NUM_ENVS) -> dict[str, np.ndarray]:
    """One vector-env step whose fields encode the global item number i = first_item + env."""
    items = np.arange(first_item, first_item + num_envs)
    return {
        "obs": np.repeat(items[:, None], 3, axis=1).astype(np.float32),
        "actions": np.stack([-items, items * 10], axis=1).astype(np.float32),
        "rewards": (items * 0.5).astype(np.float32),
        "next_obs": np.repeat(items[:, None] + 100, 3, axis=1).astype(np.float32),
        "terminated": items % 3 == 0,
    }


def filled_buffer(num_items: int, capacity: int = 5) -> ReplayBuffer:
    """A (3,)-obs, (2,)-action buffer after num_items items added NUM_ENVS at a time."""
    buffer = ReplayBuffer(capacity, obs_shape=(3,), action_shape=(2,))
    for first_item in range(0, num_items, NUM_ENVS):
        buffer.add(**transition_step(first_item))
    return buffer


def assert_rows_hold_items(buffer: ReplayBuffer, items: list[int]) -> None:
    """Row k of every field holds the transition of global item items[k]."""
    steps = [transition_step(item, num_envs=1) for item in items]
    for name in ("obs", "actions", "rewards", "next_obs", "terminated"):
        expected = torch.as_tensor(np.concatenate([step[name] for step in steps]))
        actual = getattr(buffer, name)
        assert torch.equal(actual, expected.float()), f"{name}: {actual} != {expected}"


def test_replay_add_fills_rows_in_order_before_wrapping() -> None:
    buffer = filled_buffer(4)

    assert len(buffer) == 4
    assert buffer.pos == 4
    torch.testing.assert_close(buffer.obs[:4, 0], torch.tensor([0.0, 1.0, 2.0, 3.0]))
    assert torch.all(buffer.obs[4] == 0)


def test_replay_wraps_around_splitting_a_step_across_the_end() -> None:
    buffer = filled_buffer(4)
    buffer.add(**transition_step(4))  # item 4 -> row 4, item 5 -> row 0

    assert len(buffer) == 5
    assert buffer.pos == 1
    assert_rows_hold_items(buffer, [5, 1, 2, 3, 4])

    buffer.add(**transition_step(6))
    buffer.add(**transition_step(8))  # capacity + 5 items written in all

    assert len(buffer) == buffer.capacity == 5
    assert buffer.pos == 0
    assert_rows_hold_items(buffer, [5, 6, 7, 8, 9])


def test_replay_add_accepts_tensors_and_checks_shapes() -> None:
    buffer = ReplayBuffer(4, obs_shape=(3,), action_shape=())
    buffer.add(torch.ones(2, 3), torch.tensor([1.0, 2.0]), torch.zeros(2), torch.ones(2, 3), [0, 1])

    torch.testing.assert_close(buffer.actions[:2], torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"obs has shape \(2, 4\), expected \(2, 3\)"):
        buffer.add(np.ones((2, 4)), np.ones(2), np.ones(2), np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="cannot add 5 items to a buffer of capacity 4"):
        buffer.add(np.ones((5, 3)), np.ones(5), np.ones(5), np.ones((5, 3)), np.ones(5))


def test_replay_sample_has_batch_shapes_dtypes_and_device() -> None:
    buffer = ReplayBuffer(8, obs_shape=(3,), action_shape=(2,), action_dtype=torch.float64)
    buffer.add(**transition_step(0))

    batch = buffer.sample(7)

    assert isinstance(batch, Batch)
    assert batch.obs.shape == batch.next_obs.shape == (7, 3)
    assert batch.actions.shape == (7, 2)
    assert batch.actions.dtype == torch.float64
    assert batch.rewards.shape == batch.terminated.shape == (7,)
    assert batch.rewards.dtype == batch.terminated.dtype == torch.float32
    assert all(field.device == torch.device("cpu") for field in batch)


def test_replay_sample_draws_only_stored_rows_and_keeps_fields_aligned() -> None:
    buffer = filled_buffer(6, capacity=100)
    generator = torch.Generator().manual_seed(0)

    batch = buffer.sample(2000, generator)

    items = batch.obs[:, 0]
    assert set(items.tolist()) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    torch.testing.assert_close(batch.next_obs[:, 0], items + 100)
    torch.testing.assert_close(batch.actions[:, 1], items * 10)
    torch.testing.assert_close(batch.rewards, items * 0.5)
    torch.testing.assert_close(batch.terminated, (items % 3 == 0).float())


def test_replay_sample_with_seeded_generator_is_reproducible() -> None:
    buffer = filled_buffer(10, capacity=16)

    first = buffer.sample(32, torch.Generator().manual_seed(123))
    second = buffer.sample(32, torch.Generator().manual_seed(123))
    other = buffer.sample(32, torch.Generator().manual_seed(124))

    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(first.obs, other.obs)


def test_replay_sample_from_empty_buffer_raises() -> None:
    with pytest.raises(ValueError, match="empty replay buffer"):
        ReplayBuffer(4, obs_shape=(1,), action_shape=(1,)).sample(2)


def test_replay_uint8_obs_stay_uint8_and_exact() -> None:
    buffer = ReplayBuffer(4, obs_shape=(4, 84, 84), action_shape=(), obs_dtype=torch.uint8)
    frames = np.stack([np.full((4, 84, 84), 255, np.uint8), np.full((4, 84, 84), 7, np.uint8)])
    buffer.add(frames, np.array([1, 3]), np.zeros(2), frames[[1, 0]], np.zeros(2, bool))

    batch = buffer.sample(16, torch.Generator().manual_seed(0))

    assert buffer.obs.dtype == buffer.next_obs.dtype == torch.uint8
    assert batch.obs.dtype == batch.next_obs.dtype == torch.uint8
    assert set(batch.obs.flatten().tolist()) == {7, 255}
    torch.testing.assert_close(
        batch.obs.int() + batch.next_obs.int(), torch.full_like(batch.obs, 262, dtype=torch.int32)
    )


def test_replay_stores_boolean_terminated_as_float() -> None:
    buffer = ReplayBuffer(4, obs_shape=(1,), action_shape=(1,))
    buffer.add(
        np.zeros((3, 1)),
        np.zeros((3, 1)),
        np.zeros(3),
        np.zeros((3, 1)),
        np.array([True, False, True]),
    )

    assert buffer.terminated.dtype == torch.float32
    torch.testing.assert_close(buffer.terminated, torch.tensor([1.0, 0.0, 1.0, 0.0]))


@pytest.mark.parametrize("num_items", [4, 14], ids=["before-wrap", "after-wrap"])
def test_replay_state_dict_round_trip_restores_samples_and_position(num_items: int) -> None:
    buffer = filled_buffer(num_items, capacity=5)
    state = buffer.state_dict()

    restored = ReplayBuffer(5, obs_shape=(3,), action_shape=(2,))
    restored.load_state_dict(state)

    assert state["obs"].shape == (len(buffer), 3)  # trimmed to what is stored
    assert (restored.pos, len(restored)) == (buffer.pos, len(buffer))
    original = buffer.sample(64, torch.Generator().manual_seed(9))
    again = restored.sample(64, torch.Generator().manual_seed(9))
    assert all(torch.equal(a, b) for a, b in zip(original, again, strict=True))

    buffer.add(**transition_step(100))  # both keep writing from the same position
    restored.add(**transition_step(100))
    for name in ("obs", "actions", "rewards", "next_obs", "terminated"):
        assert torch.equal(getattr(restored, name), getattr(buffer, name)), name


def test_replay_load_state_dict_rejects_other_capacity() -> None:
    state = filled_buffer(4, capacity=5).state_dict()

    with pytest.raises(ValueError, match="capacity 5 != this buffer's 6"):
        ReplayBuffer(6, obs_shape=(3,), action_shape=(2,)).load_state_dict(state)


def gae_example() -> RolloutBuffer:
    """3 steps, 2 envs: env 0 ends its episode at step 1, env 1 never does."""
    rollout = RolloutBuffer(3, 2, obs_shape=(1,), action_shape=())
    rewards = [1.0, 2.0, 3.0]
    values = [0.5, 1.0, 1.5]
    dones = [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]
    for t in range(3):
        rollout.add(
            obs=np.full((2, 1), t),
            actions=np.zeros(2),
            logprobs=np.zeros(2),
            rewards=np.full(2, rewards[t]),
            values=np.full(2, values[t]),
            dones=np.array(dones[t]),
        )
    return rollout


def test_rollout_gae_matches_hand_computed_three_step_example_with_done_in_middle() -> None:
    rollout = gae_example()

    advantages, returns = rollout.compute_gae(torch.tensor([2.0, 2.0]), gamma=0.9, gae_lambda=0.8)

    # env 0: delta_2 = 3 + 0.9*2 - 1.5 = 3.3; delta_1 = 2 - 1 = 1 (done: no bootstrap, no
    # carry); delta_0 = 1 + 0.9*1 - 0.5 = 1.4, A_0 = 1.4 + 0.72*1 = 2.12.
    # env 1: A_2 = 3.3; delta_1 = 2 + 0.9*1.5 - 1 = 2.35, A_1 = 2.35 + 0.72*3.3 = 4.726;
    # A_0 = 1.4 + 0.72*4.726 = 4.80272.
    expected_advantages = torch.tensor([[2.12, 4.80272], [1.0, 4.726], [3.3, 3.3]])
    torch.testing.assert_close(advantages, expected_advantages)
    torch.testing.assert_close(returns, expected_advantages + torch.tensor([[0.5], [1.0], [1.5]]))


def test_rollout_add_stores_steps_in_order_and_refuses_past_num_steps() -> None:
    rollout = gae_example()

    torch.testing.assert_close(
        rollout.obs[:, :, 0], torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    )
    with pytest.raises(ValueError, match="rollout buffer is full"):
        rollout.add(
            np.zeros((2, 1)), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)
        )
    rollout.reset()
    rollout.add(
        np.full((2, 1), 9.0), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)
    )
    torch.testing.assert_close(rollout.obs[0, :, 0], torch.tensor([9.0, 9.0]))


def test_rollout_minibatches_cover_every_index_once_and_are_seeded() -> None:
    rollout = RolloutBuffer(4, 3, obs_shape=(1,), action_shape=())
    for _ in range(4):
        rollout.add(*(np.zeros((3, 1)), *[np.zeros(3)] * 5))

    batches = list(rollout.minibatches(5, torch.Generator().manual_seed(0)))
    again = list(rollout.minibatches(5, torch.Generator().manual_seed(0)))

    assert [len(b) for b in batches] == [5, 5, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(12))
    assert torch.cat(batches).tolist() != list(range(12))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_rollout_partial_last_rollout_uses_only_the_stored_steps() -> None:
    rollout = RolloutBuffer(5, 2, obs_shape=(1,), action_shape=())
    for t in range(2):
        rollout.add(np.full((2, 1), t), np.zeros(2), np.zeros(2), np.ones(2), np.zeros(2),
                    np.zeros(2))  # fmt: skip

    advantages, returns = rollout.compute_gae(torch.zeros(2), gamma=0.5, gae_lambda=1.0)

    assert len(rollout) == 4 and rollout.flat("obs").shape == (4, 1)
    torch.testing.assert_close(advantages, torch.tensor([[1.5, 1.5], [1.0, 1.0]]))
    torch.testing.assert_close(returns, advantages)
    assert sorted(torch.cat(list(rollout.minibatches(3))).tolist()) == [0, 1, 2, 3]
