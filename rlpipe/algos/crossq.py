"""CrossQ (Bhatt et al., ICLR 2024): SAC without target networks, with BatchRenorm critics.

The paper's critic update, in one screen:

    q_all            = Q_i([s; s'], [a; a'])   ONE train-mode pass: batch statistics are
    q, q_next        = split(q_all)            taken over both halves together
    y                = r + gamma (1 - terminated) (min_i q_next - alpha log pi(a'|s'))
    loss_critic      = 0.5 sum_i mean (q_i - stopgrad(y))^2

The actor and temperature updates are SAC's, with the critics in eval mode (running
statistics) so the actor's gradient does not move them; policy_delay and Adam betas
(0.5, 0.999) come from the spec, the temperature's betas (Adam's own) from alpha_adam_betas.

The actor has BatchRenorm too by default (the authors' bn_mode "brn_actor", sb3-contrib's
Actor(batch_norm=True)). Its modes follow both references, the authors' sbx/sac/sac.py and
sb3-contrib's crossq/crossq.py:
- a' ~ pi(.|s') for the critic target: eval mode (update_critic applies the actor with
  train=False; sb3-contrib calls actor.set_bn_training_mode(False) before sampling);
- the actor loss: train mode, so its running statistics follow the replay batches
  (update_actor applies it with train=True; sb3-contrib set_bn_training_mode(True));
- the temperature loss: the entropy of that same train-mode sample (update_temperature
  takes update_actor's entropy; sb3-contrib reuses its log_prob);
- acting and evaluation: eval mode (sb3-contrib's predict sets training mode off).
"""

from __future__ import annotations

import torch
from torch import nn

from rlpipe.algos.sac import SAC
from rlpipe.buffers import Batch


class CrossQ(SAC):
    """CrossQ: the cross forward pass replaces SAC's target networks."""

    def _make_targets(self) -> nn.ModuleList | None:
        return None

    def critic_loss(
        self, obs: torch.Tensor, next_obs: torch.Tensor, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Critic loss from one joint forward pass over [s, a] and [s', a']."""
        with torch.no_grad():
            policy = self.next_action(next_obs)
        both_obs = torch.cat([obs, next_obs])
        both_actions = None if self.discrete else torch.cat([batch.actions, policy[0]])
        q_both = self.q_values(self.critics, both_obs, both_actions)
        q, q_next = q_both.split(len(obs), dim=1)
        target = self.soft_target(q_next.detach(), policy, batch)
        q = self.taken(q, batch.actions)
        return 0.5 * (q - target).square().mean(1).sum(), q

    def update_actor_and_alpha(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """SAC's actor and alpha steps (actor in train mode), with the critics in eval mode."""
        self.critics.eval()
        try:
            return super().update_actor_and_alpha(obs)
        finally:
            self.critics.train()
