"""Reconstruction-based repulsion and attraction (spec 2.3, 9.6).

e(a, b) = mean_u 1/2 (a_u - b_u)^2, the per-unit loss of the reconstruction term. h_hat_i is the current model's
reconstruction of replayed sample i (decoded with its soft gate); references are the replayed inputs of the
same batch (from the previous model, no gradient): a random representative of a class, or the class mean with
``average``.
- repulsion: mean over samples whose competitor is present (and confusable) of 1 / (e(ref(c1_i), h_hat_i) + eps)
- attraction: mean over all samples of e(ref(c0_i), h_hat_i)
"""
from __future__ import annotations

import torch

from birsweep.methods.competitors import competition_of
from birsweep.methods.terms import Term, inverse_mean, masked_mean


def unit_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (0.5 * (a - b) ** 2).mean(1)


class _ReconTerm(Term):
    def __init__(self, weight: float, average: bool, eps: float, use_rep_f: bool, rep_f: float):
        self.weight, self.average, self.eps, self.use_rep_f, self.rep_f = weight, average, eps, use_rep_f, rep_f

    def references(self, comp, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        if self.average:
            return comp.class_mean(x)[classes]
        return x[comp.representative[classes]]

    def parts(self, batch):
        comp = competition_of(batch, self.use_rep_f, self.rep_f)
        return comp, batch.model.output(batch.out.recon), batch.x


class ReconRepulsion(_ReconTerm):
    name = "recon_rep"

    def __call__(self, batch):
        comp, recon, x = self.parts(batch)
        e = unit_mse(self.references(comp, x, comp.rival), recon)
        return inverse_mean(e, comp.repel, self.eps)


class ReconAttraction(_ReconTerm):
    name = "recon_atr"

    def __call__(self, batch):
        comp, recon, x = self.parts(batch)
        e = unit_mse(self.references(comp, x, comp.own), recon)
        return masked_mean(e, torch.ones_like(comp.own, dtype=torch.bool))  # every sample has its own class
