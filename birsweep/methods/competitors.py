"""Competitor selection for the memory-exaggeration terms, vectorised over the batch (docs/method.md, Competitor
selection).

For replayed sample i the previous model ranks the old classes: c0_i (top-1) is its own class, c1_i (top-2)
its competitor. Classes present in the batch are the distinct c0; each has one random representative (redrawn
every step from the keys the step drew with the run's term generator, birsweep/methods/term_noise.py) or, with
averaging, the class mean. A sample whose competitor has no representative in the batch
is dropped (the fork substituted a random class). With the repulsion factor, only confusable samples
(p(c0) < f * p(c1), softmax at T = 1) take part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch.nn import functional as F

from birsweep.methods.terms import ReplayBatch


@dataclass
class Competition:
    own: torch.Tensor  # B, c0
    rival: torch.Tensor  # B, c1
    members: torch.Tensor  # B x K one-hot of c0 (float)
    counts: torch.Tensor  # K, samples per class in the batch
    representative: torch.Tensor  # K, index of the class's random representative (meaningless if absent)
    has_rival: torch.Tensor  # B bool, the competitor class is present in the batch
    confusable: torch.Tensor  # B bool (all True without the repulsion factor)

    @property
    def present(self) -> torch.Tensor:
        return self.counts > 0

    @property
    def repel(self) -> torch.Tensor:
        """Samples that take part in repulsion."""
        return self.has_rival & self.confusable

    def class_mean(self, values: torch.Tensor) -> torch.Tensor:
        """K x D mean of ``values`` over each class's members (0 for absent classes)."""
        return (self.members.t() @ values) / self.counts.clamp(min=1).unsqueeze(1)

    def class_sum(self, values: torch.Tensor) -> torch.Tensor:
        return self.members.t() @ values


def confusable_mask(
    scores: torch.Tensor, own: torch.Tensor, rival: torch.Tensor, rep_f: Union[float, torch.Tensor]
) -> torch.Tensor:
    p = F.softmax(scores, dim=1)
    return p.gather(1, own[:, None]).squeeze(1) < rep_f * p.gather(1, rival[:, None]).squeeze(1)


def select_competitors(
    scores: torch.Tensor, use_rep_f: bool, rep_f: Union[float, torch.Tensor], keys: Optional[torch.Tensor] = None
) -> Competition:
    """Competitors and representatives from the previous model's logits over the old classes (B x K); ``keys``
    (B uniform numbers) pick the representatives, drawn here from the global RNG when not given."""
    B, K = scores.shape
    device = scores.device
    if K >= 2:
        top = scores.topk(2, dim=1).indices
        own, rival = top[:, 0], top[:, 1]
    else:  # a single old class: every sample is its own, none has a competitor
        own = rival = torch.zeros(B, dtype=torch.long, device=device)
    members = F.one_hot(own, K).float()
    counts = members.sum(0)
    # random representative: the member with the largest random key
    if keys is None:
        keys = torch.rand(B, device=device)
    representative = torch.where(members.bool(), keys[:, None], torch.full_like(members, -1.0)).argmax(0)
    has_rival = (counts[rival] > 0) & (rival != own)
    confusable = (
        confusable_mask(scores, own, rival, rep_f) if use_rep_f else torch.ones(B, dtype=torch.bool, device=device)
    )
    return Competition(own, rival, members, counts, representative, has_rival, confusable)


def competition_of(batch: ReplayBatch, use_rep_f: bool, rep_f: Union[float, torch.Tensor]) -> Competition:
    """The batch's competition, computed once per step and shared by every term that needs it."""
    # a per-trial rep_f of the batched step is a tensor: keyed by identity (its str would read the value)
    key = f"competition-{use_rep_f}-{id(rep_f) if isinstance(rep_f, torch.Tensor) else rep_f}"
    comp = batch.cache.get(key)
    if not isinstance(comp, Competition):
        comp = batch.cache[key] = select_competitors(batch.scores, use_rep_f, rep_f, batch.keys)
    return comp
