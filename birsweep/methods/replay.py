"""Generative replay: a frozen copy of the previous model samples old classes and labels them (docs/method.md,
Generative replay)."""

from __future__ import annotations

import copy
from typing import Tuple, TypeVar

import torch
from torch import nn

from birsweep.models.bir import BIRNet

M = TypeVar("M", bound=nn.Module)


def frozen_copy(model: M) -> M:
    """Inference-only copy: no gradients, no optimiser or SI state attached."""
    prev = copy.deepcopy(model).eval()
    for p in prev.parameters():
        p.requires_grad_(False)
    return prev


class GenerativeReplay:
    def __init__(self, previous: BIRNet, n_old: int, batch_size: int):
        self.previous, self.n_old, self.batch_size = previous, n_old, batch_size

    @torch.no_grad()
    def sample(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Replayed inputs and the previous model's logits on the old classes, in one no-grad pass.

        Classes are drawn uniformly from the old ones on the device; the sampled class is only used to pick the
        prior mode and the hard gate, never as a target (the soft targets come from the previous classifier).
        """
        device = self.previous.out.weight.device
        classes = torch.randint(0, self.n_old, (self.batch_size,), device=device)
        x = self.previous.generate(classes)
        scores = self.previous.classify(x)[:, : self.n_old]
        return x, scores
