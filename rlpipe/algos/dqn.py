"""Deep Q-Network (Mnih et al., 2015), Double DQN option (van Hasselt et al., 2016).

Runs in the off-policy loop of rlpipe/loops/offpolicy.py (replay, learning_starts, utd). One update:

    a*       = argmax_a Q_target(s', a)        (Double DQN: argmax_a Q(s', a))
    y        = r + gamma (1 - terminated) Q_target(s', a*)
    loss     = huber(Q(s, a) - y)              (or squared error)

The target network is copied every target_update_interval updates (tau = 1) or
Polyak-averaged (tau < 1). Exploration is epsilon-greedy, epsilon decaying linearly from
epsilon_start to epsilon_end over the first exploration_fraction of schedule_frames (the frames
the spec was tuned for, whatever the run's length). Evaluation
episodes act epsilon-greedily with eval_epsilon (0.05, as CleanRL's evaluation).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlpipe.algos.base import Agent, optimizer_step, polyak_update
from rlpipe.algos.nets.batchrenorm import in_mode
from rlpipe.algos.nets.cnn import NatureCNN
from rlpipe.algos.nets.mlp import mlp_from_spec
from rlpipe.algos.nets.precision import set_precision
from rlpipe.buffers import Batch
from rlpipe.envs import EnvShapes
from rlpipe.errors import RlpipeError
from rlpipe.spec.schema import DQNSpec, Spec


class DQN(Agent):
    """DQN for discrete actions, on vector observations or Atari frames (Nature CNN)."""

    metric_columns = ("loss_critic", "q_mean")

    if TYPE_CHECKING:
        spec: DQNSpec

    def __init__(self, spec: Spec, shapes: EnvShapes, device: torch.device) -> None:
        if not shapes.discrete:
            raise RlpipeError(
                f"DQN needs discrete actions, but {spec.env.id} has continuous actions; "
                "use sac, crossq, ppo or a2c for it"
            )
        super().__init__(spec.algorithm, shapes, device, spec.env.normalize_obs)
        self.n_actions = shapes.action_dim
        if self.image:
            cnn = NatureCNN(shapes.obs_shape[0])
            head = mlp_from_spec(NatureCNN.out_dim, self.n_actions, self.spec.q_net)
            self.q_net: nn.Module = nn.Sequential(cnn, head)
        else:
            obs_dim = int(np.prod(shapes.obs_shape))
            self.q_net = mlp_from_spec(obs_dim, self.n_actions, self.spec.q_net)
        set_precision(self.spec.precision, self.q_net)
        # Both networks rest in eval mode: acting, evaluation and the TD target use
        # BatchRenorm's running statistics (if q_net has any); only the TD loss's own
        # forward pass trains q_net (see update).
        self.q_net.to(device).eval()
        self.q_target = copy.deepcopy(self.q_net).requires_grad_(False)
        self.optimizer = torch.optim.Adam(
            self.q_net.parameters(), lr=self.spec.lr, eps=self.spec.adam_eps
        )
        self.exploration_frames = self.spec.exploration_frames
        self.frames = 0

    # ------------------------------------------------------------------ acting

    def observe(self, obs: np.ndarray) -> None:
        """Count the frames (for epsilon) and fold observations into the normaliser, if any."""
        self.frames += len(obs)
        super().observe(obs)

    @property
    def epsilon(self) -> float:
        """Exploration rate at the current frame."""
        spec = self.spec
        progress = min(1.0, self.frames / max(self.exploration_frames, 1.0))
        return spec.epsilon_start + progress * (spec.epsilon_end - spec.epsilon_start)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Epsilon-greedy actions: the training schedule's epsilon, or eval_epsilon for the
        evaluation policy (deterministic=True; CleanRL's evaluation protocol)."""
        greedy = self.q_net(self.prepare(obs)).argmax(-1)
        epsilon = self.spec.eval_epsilon if deterministic else self.epsilon
        if epsilon > 0:
            explore = torch.rand(len(greedy), device=self.device) < epsilon
            random = torch.randint(0, self.n_actions, greedy.shape, device=self.device)
            greedy = torch.where(explore, random, greedy)
        return greedy.cpu().numpy()

    # ------------------------------------------------------------------ learning

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step on the TD loss; the target network follows on schedule."""
        spec = self.spec
        obs, next_obs = self.prepare(batch.obs), self.prepare(batch.next_obs)
        with torch.no_grad():
            q_next = self.q_target(next_obs)
            if spec.double_q:
                best = self.q_net(next_obs).argmax(-1, keepdim=True)
                v_next = q_next.gather(-1, best).squeeze(-1)
            else:
                v_next = q_next.max(-1).values
            target = batch.rewards + spec.gamma * (1.0 - batch.terminated) * v_next
        with in_mode(self.q_net, training=True):
            q = self.q_net(obs).gather(-1, batch.actions.long().unsqueeze(-1)).squeeze(-1)
        if spec.loss == "huber":
            loss = F.smooth_l1_loss(q, target)
        else:
            loss = F.mse_loss(q, target)
        optimizer_step(self.optimizer, loss, self.q_net.parameters(), spec.max_grad_norm)
        self.updates += 1
        if self.updates % spec.target_update_interval == 0:
            polyak_update(self.q_target, self.q_net, spec.tau)
        return {"loss_critic": loss.detach(), "q_mean": q.detach().mean()}

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self, with_optimizers: bool = True) -> dict[str, Any]:
        """Weights (and optimiser state, frame and update counts) of the agent."""
        state: dict[str, Any] = {
            "q_net": self.q_net.state_dict(),
            "q_target": self.q_target.state_dict(),
            "frames": self.frames,
            "updates": self.updates,
        }
        self._norm_state(state)
        if with_optimizers:
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved (the optimiser only if present)."""
        self.q_net.load_state_dict(state["q_net"])
        self.q_target.load_state_dict(state["q_target"])
        self.frames, self.updates = state["frames"], state["updates"]
        self._load_norm_state(state)
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
