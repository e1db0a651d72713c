"""Learning without Forgetting (Li & Hoiem 2017) as upstream runs it (``--replay=current --distill``;
docs/method.md, Methods: LwF): the current inputs are "replayed", with the previous model's predictions on the old
classes as soft targets for the current model's logits of the active classes."""

from __future__ import annotations

from typing import Tuple

import torch

from birsweep.methods import bir_losses as L
from birsweep.models.classifier import Classifier


def lwf_loss(logits: torch.Tensor, previous_scores: torch.Tensor, temp: float) -> torch.Tensor:
    """Distillation of the previous model's old-class logits ``previous_scores`` (B x n_old) into the current
    model's ``logits`` of the active classes (B x n_active): T^2 * CE(softmax(s/T) zero-padded, softmax(logits/T))."""
    pi = L.soft_targets(previous_scores, temp, logits.shape[1])
    return L.distillation_loss(logits, pi, temp)


class CurrentInputReplay:
    """The first ``batch_size`` current inputs, labelled by the previous model (no gradient)."""

    def __init__(self, previous: Classifier, n_old: int, batch_size: int):
        self.previous, self.n_old, self.batch_size = previous, n_old, batch_size

    @torch.no_grad()
    def sample(self, current: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = current[: self.batch_size]
        return x, self.previous.classify(x)[:, : self.n_old]
