"""The BI-R loss terms (docs/method.md, BI-R loss), each a small pure function of tensors, batch-averaged."""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch.nn import functional as F


def recon_loss(target: torch.Tensor, recon: torch.Tensor, bce: bool) -> torch.Tensor:
    """Per-unit reconstruction loss, averaged over units then batch.

    MSE: 1/2 (h - h_hat)^2, i.e. -log N(h; h_hat, I) without its constant. BCE: ``recon`` are logits and the
    target is in [0, 1] (upstream applies a sigmoid then BCE; the logits form is the same maths, numerically safer).
    """
    if bce:
        return F.binary_cross_entropy_with_logits(recon, target, reduction="none").mean(1).mean()
    return (0.5 * (target - recon) ** 2).mean(1).mean()


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)) summed over the last dim, without the -1/2 log 2pi constant (it cancels)."""
    return -0.5 * (logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(-1)


def variational_loss(
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    prior_mu: torch.Tensor,
    prior_logvar: torch.Tensor,
    n_pixels: int,
    y: Optional[torch.Tensor] = None,
    weights: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Monte-Carlo KL of q(z|x) from the class-conditional prior, divided by the number of input pixels.

    With ``y`` (current data) the prior is the mode of the true class. With ``weights`` (replay: pi over the
    active classes) it is the mixture sum_k pi_k N_k(z), computed with the max-shift trick and the sum clamped
    at 1e-40 before the log, as upstream.
    """
    log_q = log_normal_diag(z, mu, logvar)
    if y is not None:
        log_p = log_normal_diag(z, prior_mu[y], prior_logvar[y])
    elif weights is not None:
        k = weights.shape[1]
        a = log_normal_diag(z.unsqueeze(1), prior_mu[:k].unsqueeze(0), prior_logvar[:k].unsqueeze(0))  # B x K
        a_max = a.max(dim=1, keepdim=True).values
        log_p = torch.log(torch.clamp((weights * torch.exp(a - a_max)).sum(1), min=1e-40)) + a_max.squeeze(1)
    else:
        raise ValueError("variational_loss needs the labels y (current data) or the weights (replay)")
    return (log_q - log_p).mean() / n_pixels


def soft_targets(scores: torch.Tensor, temp: Union[float, torch.Tensor], n_active: int) -> torch.Tensor:
    """pi = softmax(s / T) over the old classes, zero-padded to ``n_active`` columns (T a number, or a 0-d tensor
    per trial under vmap)."""
    pi = F.softmax(scores / temp, dim=1)
    return F.pad(pi, (0, n_active - pi.shape[1]))


def distillation_loss(logits: torch.Tensor, pi: torch.Tensor, temp: Union[float, torch.Tensor]) -> torch.Tensor:
    """T^2 * mean_b[-sum_c pi_c log softmax(logits / T)_c] over the active classes (Hinton et al.)."""
    return temp**2 * -(pi * F.log_softmax(logits / temp, dim=1)).sum(1).mean()


def prediction_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


def mix(current: torch.Tensor, replay: torch.Tensor, tasks_seen: int) -> torch.Tensor:
    """Current and replayed loss weighted 1/t and 1 - 1/t, t the number of tasks seen (docs/method.md, Total
    loss): every method with replay, and every generator trained on replay, weighs its two losses so."""
    r = 1.0 / tasks_seen
    return r * current + (1.0 - r) * replay
