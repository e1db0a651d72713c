"""Supervised contrastive learning on a projection head (docs/method.md, Supervised contrastive).

Anchors are two views of every replayed sample and (``include_current``) of every current image:
- replayed inputs: two stochastic feature-space views (a dropout mask and Gaussian noise), positives by the
  previous model's top-1 pseudo-label, or with ``c_scores`` soft positive weights p_i . p_j where
  p = softmax(s / T) (the fork used raw logits);
- current images: two augmented views (birsweep's recipe or the fork's: birsweep/methods/contrastive_views.py)
  through the frozen encoder, positives by the true label.
All views go through the current model's fcE, then dropout (training only), the linear head and L2
normalisation. The head has its own learning rate (a parameter group); the contrastive gradient reaches fcE at
the main learning rate, as it effectively did in the fork's two-optimiser step. ``c_hard`` re-weights negatives
towards hard ones as Robinson et al. (2021), debiased with tau+ (the fork's version was faulty; see docs/variants.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from birsweep.declare import bounded, one_of
from birsweep.methods.contrastive_views import RECIPES, VIEWS_ON_NORMALISED, make_views
from birsweep.methods.term_registry import TermContext, TermSpec, register_term
from birsweep.methods.terms import LossTerm, ReplayBatch

if TYPE_CHECKING:
    from birsweep.data.features import Inputs
    from birsweep.models.bir import BIRNet


@dataclass
class ContrastiveConfig:
    """``variant.contrastive``: supervised contrastive loss on a projection head."""

    enabled: bool = False
    c_temp: float = bounded(1.0, 0.0, low_inclusive=False)  # temperature tau (fork default)
    base_temp: float = bounded(0.07, 0.0, low_inclusive=False)  # loss scaled by tau / base_temp, as SupCon
    c_lr: float = bounded(1e-8, 0.0)  # learning rate of the projection head (its own parameter group); fork default
    c_drop: float = bounded(0.5, 0.0, 1.0)  # dropout on the hidden representation before the head, training only
    c_scores: bool = False  # soft positives p_i . p_j, p = softmax(previous logits / T), not the same top-1 class
    proj_dim: int = bounded(100, 1)  # projection size (Linear h_dim -> proj_dim)
    include_current: bool = True  # also contrast two kornia views of the current images (positives by true label)
    augment: str = one_of("birsweep", *RECIPES)  # the current images' views: birsweep's recipe | the fork's
    feat_drop: float = bounded(0.1, 0.0, 1.0)  # replayed-feature views: dropout mask probability
    feat_noise: float = bounded(0.1, 0.0)  # replayed-feature views: Gaussian noise std, relative to the feature std
    weight: float = bounded(1.0, 0.0)  # the fork adds the loss unweighted, outside the replay loss
    c_hard: bool = False  # hard-negative re-weighting (Robinson et al. 2021) instead of plain SupCon
    c_hard_beta: float = bounded(1.0, 0.0)  # concentration on hard negatives (fork value)
    c_hard_tau_plus: float = bounded(0.05, 0.0, 1.0)  # class-prior debiasing tau+ (fork value)


def supcon_loss(
    features: torch.Tensor, weights: torch.Tensor, temp: float, base_temp: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """SupCon (Khosla et al. 2020) with weighted positives; returns (mean over anchors, number of anchors).

    loss_i = -(temp / base_temp) * sum_{j != i} w_ij [a_ij - log sum_{k != i} exp a_ik] / sum_{j != i} w_ij,
    a_ij = f_i . f_j / temp. Anchors without positive weight are left out.
    """
    n = features.shape[0]
    self_mask = torch.eye(n, dtype=torch.bool, device=features.device)
    logits = features @ features.t() / temp
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    log_prob = logits - torch.logsumexp(logits.masked_fill(self_mask, float("-inf")), dim=1, keepdim=True)
    w = weights.masked_fill(self_mask, 0.0)
    w_sum = w.sum(1)
    valid = w_sum > 0
    per_anchor = -(temp / base_temp) * (w * log_prob).sum(1) / w_sum.clamp(min=1e-12)
    count = valid.sum()
    return torch.where(valid, per_anchor, torch.zeros_like(per_anchor)).sum() / count.clamp(min=1), count


def hard_negative_loss(
    features: torch.Tensor, positive: torch.Tensor, temp: float, base_temp: float, beta: float, tau_plus: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Debiased hard-negative contrastive loss (Robinson et al. 2021) with several positives per anchor.

    For anchor i and positive p: -log pos / (pos + Ng), with Ng = max((-N tau+ pos + R) / (1 - tau+), N e^{-1/t}),
    R = N sum_k v_k neg_k where v = softmax(beta * a_ik) over the N negatives. Computed after a shift by 1/t
    (the largest possible similarity), which leaves the ratio unchanged.
    """
    n = features.shape[0]
    self_mask = torch.eye(n, dtype=torch.bool, device=features.device)
    shifted = (features @ features.t() - 1.0) / temp
    exp = torch.exp(shifted)
    pos_mask = positive & ~self_mask
    neg_mask = ~positive & ~self_mask
    n_neg = neg_mask.sum(1, keepdim=True).float()
    v = torch.softmax((beta * shifted).masked_fill(~neg_mask, float("-inf")), dim=1).nan_to_num(0.0)
    reweighted = n_neg * (v * exp).sum(1, keepdim=True)
    ng = ((-n_neg * tau_plus * exp + reweighted) / (1 - tau_plus)).clamp(min=n_neg * math.exp(-2.0 / temp))
    per_pair = -(shifted - torch.log(exp + ng))
    n_pos = pos_mask.sum(1)
    valid = (n_pos > 0) & (n_neg.squeeze(1) > 0)
    per_anchor = (per_pair * pos_mask).sum(1) / n_pos.clamp(min=1) * (temp / base_temp)
    count = valid.sum()
    return torch.where(valid, per_anchor, torch.zeros_like(per_anchor)).sum() / count.clamp(min=1), count


class ProjectionHead(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)  # a module: off in eval mode (the fork's was always on)
        self.linear = nn.Linear(in_dim, out_dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(self.dropout(h)), dim=1)


class SupervisedContrastive(LossTerm):
    name = "contrastive"
    in_replay = False  # the fork adds it to the total, unweighted and without the (1 - 1/t) factor
    traceable = False  # trainer.compile=step keeps this variant's step eager (birsweep/train/step/compiled.py)

    def __init__(
        self,
        model: BIRNet,
        inputs: Inputs,
        c_temp: float,
        base_temp: float,
        c_lr: float,
        c_drop: float,
        c_scores: bool,
        proj_dim: int,
        include_current: bool,
        feat_drop: float,
        feat_noise: float,
        weight: float,
        c_hard: bool = False,
        hard_beta: float = 1.0,
        hard_tau_plus: float = 0.05,
        augment: str = "birsweep",
    ) -> None:
        self.model, self.inputs = model, inputs
        self.temp, self.base_temp, self.c_lr, self.c_scores = c_temp, base_temp, c_lr, c_scores
        self.include_current, self.feat_drop, self.feat_noise = include_current, feat_drop, feat_noise
        self.weight = weight
        self.c_hard, self.hard_beta, self.hard_tau_plus = c_hard, hard_beta, hard_tau_plus
        device = next(model.parameters()).device
        self.head = ProjectionHead(model.classifier.in_features, proj_dim, c_drop).to(device)
        self.augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
        self.on_normalised = VIEWS_ON_NORMALISED[augment]
        if include_current:
            assert inputs.arrays is not None, "contrasting current images needs the images (keep_images)"
            shape = inputs.arrays.shape
            self.augment = make_views(augment, shape[0], shape[1:], device)
        # kornia decides on the host (random colour-jitter order, skip checks): traced, each decision would be a
        # graph break and a guard, and each new order a recompile, so the views stay out of any compiled graph.
        # Disabled here, not by a decorator: torch.compiler.disable imports torch._dynamo (~1.5 s of CPU), which
        # every launch.py process would then pay at import, compiling or not
        self.current_views: Callable[[torch.Tensor], torch.Tensor] = torch.compiler.disable(  # type: ignore[no-untyped-call]
            self._current_views
        )

    def param_groups(self) -> List[Dict[str, Any]]:
        return [{"params": list(self.head.parameters()), "lr": self.c_lr}]

    def state_dict(self) -> Dict[str, Any]:
        return {"head": self.head.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.head.load_state_dict(state["head"])

    def feature_views(self, x: torch.Tensor) -> torch.Tensor:
        """Two stochastic views of each replayed input: dropout mask plus Gaussian noise (scaled to the batch)."""
        scale = self.feat_noise * x.detach().std()
        views = [F.dropout(x, self.feat_drop, training=True) + scale * torch.randn_like(x) for _ in range(2)]
        return torch.cat(views)

    # ``current_views``, run eagerly (see __init__); called as a statement of its own, so a graph resumes after it
    # with nothing of the caller's on the stack (a temporary there, such as a bound ``list.append``, would
    # invalidate the compiled resume every step)
    @torch.no_grad()
    def _current_views(self, idx: torch.Tensor) -> torch.Tensor:
        assert self.augment is not None
        images = self.inputs.unit_images(idx)
        if self.on_normalised:  # the fork's recipe augments the normalised images
            images = self.inputs.normalise(images)
            return torch.cat([self.inputs.encode(self.augment(images)) for _ in range(2)])
        return torch.cat([self.inputs.encode(self.inputs.normalise(self.augment(images))) for _ in range(2)])

    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        self.head.train(batch.model.training)
        pi_r = batch.pi  # soft targets over the active classes (zeros on the current task's classes)
        views, probs = [self.feature_views(batch.x)], [pi_r, pi_r]
        if self.include_current:
            assert batch.current_idx is not None, "the step passes the current samples' indices"
            current = self.current_views(batch.current_idx)  # a statement of its own: see current_views
            views.append(current)
            onehot = F.one_hot(batch.current_y, batch.n_active).to(pi_r.dtype)
            probs += [onehot, onehot]
        # the order of probs must follow the views: [replay v1, replay v2, current v1, current v2]
        features = self.head(batch.model.fcE(torch.cat(views)))
        p = torch.cat(probs)
        if self.c_scores:
            return supcon_loss(features, p @ p.t(), self.temp, self.base_temp)
        labels = p.argmax(1)  # top-1 pseudo-labels for replay, true labels for current data
        same = labels[:, None] == labels[None, :]
        if self.c_hard:
            return hard_negative_loss(features, same, self.temp, self.base_temp, self.hard_beta, self.hard_tau_plus)
        return supcon_loss(features, same.to(features.dtype), self.temp, self.base_temp)


def build(cfg: ContrastiveConfig, ctx: TermContext) -> List[LossTerm]:
    if not cfg.enabled:
        return []
    return [
        SupervisedContrastive(
            ctx.model,
            ctx.inputs,
            c_temp=cfg.c_temp,
            base_temp=cfg.base_temp,
            c_lr=cfg.c_lr,
            c_drop=cfg.c_drop,
            c_scores=cfg.c_scores,
            proj_dim=cfg.proj_dim,
            include_current=cfg.include_current,
            feat_drop=cfg.feat_drop,
            feat_noise=cfg.feat_noise,
            weight=cfg.weight,
            c_hard=cfg.c_hard,
            hard_beta=cfg.c_hard_beta,
            hard_tau_plus=cfg.c_hard_tau_plus,
            augment=cfg.augment,
        )
    ]


def check(cfg: ContrastiveConfig) -> Optional[str]:
    if cfg.c_hard and cfg.c_scores:
        return "variant.contrastive.c_hard needs hard positives: it cannot be combined with c_scores=true"
    return None


register_term(TermSpec("contrastive", ContrastiveConfig, build, order=30, check=check))
