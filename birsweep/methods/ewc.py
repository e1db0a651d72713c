"""Elastic Weight Consolidation, offline (Kirkpatrick et al. 2017), as upstream's comparison runs it (docs/method.md,
Methods: EWC).

After each task the diagonal Fisher information is estimated on (up to ``fisher_n``) training samples of that
task, each alone: ``F_i = mean_x sum_c p(c|x) (d/dtheta_i log p(c|x))^2`` over the active classes, with the model's
own predicted probabilities as weights (the expected Fisher). Offline EWC keeps one (anchor, Fisher) pair per task
and adds ``lambda * 1/2 sum_k sum_i F_ki (theta_i - theta*_ki)^2`` to the loss.
"""

from __future__ import annotations

from typing import Dict, List, TypedDict

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F


@torch.no_grad()
def _probabilities(model: nn.Module, x: torch.Tensor, n_active: int) -> torch.Tensor:
    return F.softmax(model(x)[:, :n_active], dim=1)


def fisher_diagonal(model: nn.Module, x: torch.Tensor, n_active: int, budget: int = 1 << 24) -> Dict[str, torch.Tensor]:
    """Expected Fisher of every trainable parameter (by name) from the inputs ``x`` (one row per sample).

    Per-sample, per-class gradients are taken with ``torch.func.vmap`` over (sample, class) pairs, as many at once
    as keep ``pairs x parameters`` within ``budget`` numbers: the same sum as upstream's loop of one backward pass
    per sample and class. The model is put in evaluation mode meanwhile.
    """
    was_training = model.training
    model.eval()
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}

    def nll(theta: Dict[str, torch.Tensor], xi: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, theta, (xi.unsqueeze(0),))[:, :n_active]
        return F.cross_entropy(logits, c.unsqueeze(0))

    per_pair = vmap(grad(nll), in_dims=(None, 0, 0))
    n_params = sum(p.numel() for p in params.values())
    chunk = max(1, budget // max(n_params * n_active, 1))  # samples per call, each with all its classes
    classes = torch.arange(n_active, device=x.device)
    for start in range(0, len(x), chunk):
        xb = x[start : start + chunk]
        weights = _probabilities(model, xb, n_active).reshape(-1)  # sample-major, like the pairs below
        grads = per_pair(params, xb.repeat_interleave(n_active, dim=0), classes.repeat(len(xb)))
        for n, g in grads.items():
            fisher[n] += torch.einsum("b,b...->...", weights, g * g)
    model.train(was_training)
    return {n: f / max(len(x), 1) for n, f in fisher.items()}


class EWCState(TypedDict):
    anchors: List[List[torch.Tensor]]
    fishers: List[List[torch.Tensor]]


class OfflineEWC:
    """One quadratic penalty per finished task, on the given named parameters."""

    def __init__(self, params: Dict[str, nn.Parameter], lamda: float):
        self.names = list(params)
        self.params = [params[n] for n in self.names]
        self.lamda = float(lamda)
        self.anchors: List[List[torch.Tensor]] = []
        self.fishers: List[List[torch.Tensor]] = []

    @property
    def active(self) -> bool:
        return self.lamda > 0 and bool(self.fishers)

    @torch.no_grad()
    def consolidate(self, fisher: Dict[str, torch.Tensor]) -> None:
        """Add the finished task's term: its Fisher and the parameters as they are now."""
        self.anchors.append([p.detach().clone() for p in self.params])
        self.fishers.append([fisher[n].detach().clone() for n in self.names])

    def penalty(self) -> torch.Tensor:
        """1/2 sum_k sum_i F_ki (theta_i - theta*_ki)^2, differentiable (unweighted by lambda)."""
        total = torch.zeros((), device=self.params[0].device)
        for anchor, fisher in zip(self.anchors, self.fishers):
            for p, a, f in zip(self.params, anchor, fisher):
                total = total + (f * (p - a) ** 2).sum()
        return 0.5 * total

    def state_dict(self) -> EWCState:
        return {"anchors": self.anchors, "fishers": self.fishers}

    def load_state_dict(self, state: EWCState) -> None:
        self.anchors = [[t.clone() for t in a] for a in state["anchors"]]
        self.fishers = [[t.clone() for t in f] for f in state["fishers"]]
