"""Distribution repulsion (docs/method.md, Distribution repulsion): L = mean_i 1 / (D(q_i, q_rival(i)) + eps).

q_i is the current model's posterior of replayed sample i; q_rival(i) that of the random representative of its
competitor class in the same batch, or with ``average`` the class mean (mean mu, variance sum sigma^2 / n^2).
Both come from the same forward pass, so the gradient moves both posteriors apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import torch

from birsweep.declare import bounded, one_of
from birsweep.methods.competitors import Competition, competition_of
from birsweep.methods.divergences import DIVERGENCES
from birsweep.methods.term_registry import TermContext, TermSpec, register_term
from birsweep.methods.terms import LossTerm, ReplayBatch, inverse_mean


@dataclass
class RepulsionConfig:
    """``variant.repulsion``: inverse divergence between the latent posteriors of a replayed sample and its
    competitor's."""

    enabled: bool = False
    # weight inside the replay loss (so scaled by 1 - 1/t); fork default
    lamda_rep: float = bounded(1e-6, 0.0, per_trial=True)
    divergence: str = one_of("js", "js", "kl")  # js: fork's Gaussian-midpoint approximation (not the true JS) | kl
    average: bool = False  # competitor = class mean (mean mu, variance sum sigma^2 / n^2), not one random sample
    # floor of the inverse: 1 / (D + eps) (the fork had none)
    eps: float = bounded(1e-8, 0.0, low_inclusive=False, per_trial=True)


class DistributionRepulsion(LossTerm):
    name = "repulsion"
    per_trial = {"weight": "variant.repulsion.lamda_rep", "eps": "variant.repulsion.eps", "rep_f": "variant.rep_f"}
    needs_keys = True  # the competition's random representatives (drawn even when averaging: fixed draws)

    def __init__(self, lamda_rep: float, divergence: str, average: bool, eps: float, use_rep_f: bool, rep_f: float):
        self.weight, self.divergence, self.average, self.eps = lamda_rep, DIVERGENCES[divergence], average, eps
        self.use_rep_f, self.rep_f = use_rep_f, rep_f

    def rival_posteriors(
        self, comp: Competition, mu: torch.Tensor, logvar: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.average:
            mean_mu = comp.class_mean(mu)
            var_of_mean = comp.class_sum(torch.exp(logvar)) / comp.counts.clamp(min=1).unsqueeze(1) ** 2
            return mean_mu[comp.rival], torch.log(var_of_mean[comp.rival].clamp(min=1e-30))
        j = comp.representative[comp.rival]
        return mu[j], logvar[j]

    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        comp = competition_of(batch, self.use_rep_f, self.rep_f)
        mu, logvar = batch.out.mu, batch.out.logvar
        rival_mu, rival_logvar = self.rival_posteriors(comp, mu, logvar)
        d = self.divergence(mu, logvar, rival_mu, rival_logvar)
        return inverse_mean(d, comp.repel, self.eps)


def build(cfg: RepulsionConfig, ctx: TermContext) -> List[LossTerm]:
    if not cfg.enabled:
        return []
    return [DistributionRepulsion(cfg.lamda_rep, cfg.divergence, cfg.average, cfg.eps, ctx.use_rep_f, ctx.rep_f)]


register_term(TermSpec("repulsion", RepulsionConfig, build, order=10, batched=True))
