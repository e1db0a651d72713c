"""Builds the extra loss terms the selected variant enables. Disabled terms are not built, so they cost nothing."""
from __future__ import annotations

from typing import List

from omegaconf import DictConfig

from birsweep.methods.terms import Term


def build_terms(variant: DictConfig, model, inputs, distill_temp: float = 2.0) -> List[Term]:
    terms: List[Term] = []
    shared = dict(use_rep_f=variant.use_rep_f, rep_f=variant.rep_f)
    rep = variant.repulsion
    if rep.enabled:
        from birsweep.methods.repulsion import DistributionRepulsion

        terms.append(DistributionRepulsion(rep.lamda_rep, rep.divergence, rep.average, rep.eps, **shared))
    rec = variant.recon
    if rec.repulsion or rec.attraction:
        from birsweep.methods.recon_terms import ReconAttraction, ReconRepulsion

        if rec.repulsion:
            terms.append(ReconRepulsion(rec.lamda_rep, rec.average, rec.eps, **shared))
        if rec.attraction:
            terms.append(ReconAttraction(rec.lamda_atr, rec.average, rec.eps, **shared))
    con = variant.contrastive
    if con.enabled:
        from birsweep.methods.contrastive import SupervisedContrastive

        terms.append(SupervisedContrastive(
            model, inputs, c_temp=con.c_temp, base_temp=con.base_temp, c_lr=con.c_lr, c_drop=con.c_drop,
            c_scores=con.c_scores, proj_dim=con.proj_dim, include_current=con.include_current,
            feat_drop=con.feat_drop, feat_noise=con.feat_noise, weight=con.weight, c_hard=con.c_hard,
            hard_beta=con.c_hard_beta, hard_tau_plus=con.c_hard_tau_plus))
    return terms
