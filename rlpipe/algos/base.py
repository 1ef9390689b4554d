"""What every agent is (the `Agent` base class) and the update helpers agents share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from rlpipe.algos.normalize import ObsNormalizer
from rlpipe.envs import EnvShapes

if TYPE_CHECKING:
    from rlpipe.spec.schema import AlgorithmSpec


class Agent(ABC):
    """An agent as the loops, evaluation, checkpoints and the bench see it.

    Every agent is built as `Agent(spec, shapes, device)` from the whole resolved spec. It
    prepares observations one way (`prepare`), folds collected observations into its
    normaliser (`observe`), acts (`act`), and saves and restores itself (`state_dict`,
    `load_state_dict`). How it learns (`update`) takes what its loop gives it: a replay batch
    (off-policy) or a rollout (on-policy).
    """

    metric_columns: ClassVar[tuple[str, ...]] = ()
    """The statistics its `update` returns, in the order they appear in metrics.csv."""
    compiled_methods: ClassVar[tuple[str, ...]] = ()
    """Pure loss methods that rlpipe.fast may replace with torch.compile'd versions."""

    def __init__(
        self, algorithm: AlgorithmSpec, shapes: EnvShapes, device: torch.device, normalize: bool
    ):
        self.spec = algorithm
        self.device = device
        self.image = shapes.image
        # Image frames stay uint8 for the CNN, so they are never normalised.
        use_norm = normalize and not self.image
        self.obs_norm = ObsNormalizer(shapes.obs_shape).to(device) if use_norm else None
        self.updates = 0

    def prepare(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Observations as the networks see them: uint8 frames, or flat (normalised) floats."""
        x = torch.as_tensor(obs, device=self.device)
        if self.image:
            return x
        x = x.to(torch.float32)
        if self.obs_norm is not None:
            x = self.obs_norm(x)
        return x.flatten(1)

    def observe(self, obs: np.ndarray) -> None:
        """Fold newly collected raw observations into the normaliser, if any."""
        if self.obs_norm is not None:
            self.obs_norm.update(obs)

    @abstractmethod
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of raw observations from the env."""

    @abstractmethod
    def state_dict(self, with_optimizers: bool = True) -> dict[str, Any]:
        """Weights (and, for checkpoints, optimiser state and counters)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved (optimisers only if present)."""

    def _norm_state(self, state: dict[str, Any]) -> dict[str, Any]:
        if self.obs_norm is not None:
            state["obs_norm"] = self.obs_norm.state_dict()
        return state

    def _load_norm_state(self, state: dict[str, Any]) -> None:
        if self.obs_norm is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])


def adam(
    params: Iterable[torch.Tensor],
    lr: float,
    device: torch.device,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> torch.optim.Adam:
    """Adam with the fused kernel where this torch build has one for the device."""
    return torch.optim.Adam(
        params, lr=lr, betas=betas, eps=eps, fused=device.type in ("cuda", "cpu")
    )


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    params: Iterable[torch.Tensor] | None = None,
    max_grad_norm: float | None = None,
) -> None:
    """One step on loss: clear the gradients, backpropagate, clip params' norm (if set), step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None and params is not None:
        nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- (1 - tau) target + tau online, over floating parameters and buffers;
    tau = 1 is a hard copy."""
    online_tensors = list(online.parameters()) + list(online.buffers())
    target_tensors = list(target.parameters()) + list(target.buffers())
    pairs = [
        (t, o) for t, o in zip(target_tensors, online_tensors, strict=True) if t.is_floating_point()
    ]
    torch._foreach_lerp_([t for t, _ in pairs], [o for _, o in pairs], tau)
