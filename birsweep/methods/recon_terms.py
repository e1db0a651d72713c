"""Reconstruction-based repulsion and attraction (docs/method.md, Reconstruction repulsion and attraction).

e(a, b) = mean_u 1/2 (a_u - b_u)^2, the per-unit loss of the reconstruction term. h_hat_i is the current model's
reconstruction of replayed sample i (decoded with its soft gate); references are the replayed inputs of the
same batch (from the previous model, no gradient): a random representative of a class, or the class mean with
``average``.
- repulsion: mean over samples whose competitor is present (and confusable) of 1 / (e(ref(c1_i), h_hat_i) + eps)
- attraction: mean over all samples of e(ref(c0_i), h_hat_i)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import torch

from birsweep.declare import bounded
from birsweep.methods.competitors import Competition, competition_of
from birsweep.methods.term_registry import TermContext, TermSpec, register_term
from birsweep.methods.terms import LossTerm, ReplayBatch, inverse_mean, masked_mean


@dataclass
class ReconConfig:
    """``variant.recon``: reconstruction repulsion from the competitor / attraction to the own class."""

    repulsion: bool = False
    attraction: bool = False
    # weight of 1 / e(competitor features, reconstruction); fork default
    lamda_rep: float = bounded(1e-6, 0.0, per_trial=True)
    # weight of e(own-class features, reconstruction); fork default
    lamda_atr: float = bounded(1e-6, 0.0, per_trial=True)
    average: bool = False  # class-mean features of the replay batch as references instead of one random sample
    eps: float = bounded(1e-8, 0.0, low_inclusive=False, per_trial=True)  # floor of the inverse: 1 / (e + eps)


def unit_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (0.5 * (a - b) ** 2).mean(1)


class _ReconTerm(LossTerm):
    needs_keys = True  # the competition's random representatives (drawn even when averaging: fixed draws)

    def __init__(self, weight: float, average: bool, eps: float, use_rep_f: bool, rep_f: float):
        self.weight, self.average, self.eps, self.use_rep_f, self.rep_f = weight, average, eps, use_rep_f, rep_f

    def references(self, comp: Competition, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        if self.average:
            return comp.class_mean(x)[classes]
        return x[comp.representative[classes]]

    def parts(self, batch: ReplayBatch) -> Tuple[Competition, torch.Tensor, torch.Tensor]:
        comp = competition_of(batch, self.use_rep_f, self.rep_f)
        return comp, batch.model.output(batch.out.recon), batch.x


class ReconRepulsion(_ReconTerm):
    name = "recon_rep"
    per_trial = {"weight": "variant.recon.lamda_rep", "eps": "variant.recon.eps", "rep_f": "variant.rep_f"}

    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        comp, recon, x = self.parts(batch)
        e = unit_mse(self.references(comp, x, comp.rival), recon)
        return inverse_mean(e, comp.repel, self.eps)


class ReconAttraction(_ReconTerm):
    name = "recon_atr"
    per_trial = {"weight": "variant.recon.lamda_atr", "eps": "variant.recon.eps", "rep_f": "variant.rep_f"}

    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        comp, recon, x = self.parts(batch)
        e = unit_mse(self.references(comp, x, comp.own), recon)
        return masked_mean(e, torch.ones_like(comp.own, dtype=torch.bool))  # every sample has its own class


def build(cfg: ReconConfig, ctx: TermContext) -> List[LossTerm]:
    terms: List[LossTerm] = []
    if cfg.repulsion:
        terms.append(ReconRepulsion(cfg.lamda_rep, cfg.average, cfg.eps, ctx.use_rep_f, ctx.rep_f))
    if cfg.attraction:
        terms.append(ReconAttraction(cfg.lamda_atr, cfg.average, cfg.eps, ctx.use_rep_f, ctx.rep_f))
    return terms


register_term(TermSpec("recon", ReconConfig, build, order=20, switches=("repulsion", "attraction"), batched=True))
