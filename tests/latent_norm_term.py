"""A loss term added the way a new term is added: this module plus one YAML file (see test_term_registry.py).

L = mean over replayed samples of |mu_i|^2, inside the replay loss with weight ``lamda``. It means nothing; it only
has to be computed, logged and checked like a real term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import torch

from birsweep.declare import bounded, one_of
from birsweep.methods.term_registry import TermContext, TermSpec, register_term
from birsweep.methods.terms import LossTerm, ReplayBatch, masked_mean


@dataclass
class LatentNormConfig:
    enabled: bool = False
    lamda: float = bounded(0.5, 0.0)  # weight inside the replay loss
    reduce: str = one_of("mean", "mean", "max")  # over latent units: mean or max of mu^2


class LatentNorm(LossTerm):
    name = "latent_norm"

    def __init__(self, lamda: float, reduce: str):
        self.weight, self.reduce = lamda, reduce

    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        sq = batch.out.mu**2
        per_sample = sq.mean(1) if self.reduce == "mean" else sq.amax(1)
        return masked_mean(per_sample, torch.ones_like(per_sample, dtype=torch.bool))


def build(cfg: LatentNormConfig, ctx: TermContext) -> List[LossTerm]:
    return [LatentNorm(cfg.lamda, cfg.reduce)] if cfg.enabled else []


register_term(TermSpec("latent_norm", LatentNormConfig, build, order=40))
