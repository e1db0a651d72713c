"""Test log-likelihood by importance sampling and reconstruction error (docs/method.md, Generator evaluation).

log p(x|y) ~= logsumexp_s [log p(x|z_s, y) + log p(z_s|y) - log q(z_s|x)] - log S, z_s ~ q(z|x), as upstream's
``estimate_loglikelihood`` but batched over test samples. Like upstream, every Gaussian density leaves out its
-1/2 log 2pi per dimension (the latent ones cancel; the observation model's -D/2 log 2pi is a constant offset).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch.nn import functional as F

from birsweep.gen_eval.views import GenerativeView

IMAGE_ROW_COST = 16


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)) summed over the last dim, without the -1/2 log 2pi constant."""
    return -0.5 * (logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(-1)


def log_observation(x: torch.Tensor, recon: torch.Tensor, bce: bool) -> torch.Tensor:
    """log p(x | decoder output) summed over units: Bernoulli on logits, or unit-variance Gaussian (no constant)."""
    if bce:
        return -F.binary_cross_entropy_with_logits(recon, x.expand_as(recon), reduction="none").sum(-1)
    return -0.5 * ((x - recon) ** 2).sum(-1)


@torch.no_grad()
def log_weights(view: GenerativeView, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Importance log-weights, B x S, for test samples x (B x D, or B x C x H x W images) with labels y and standard
    normal noise eps (B x S x z_dim) that places the S samples z = mu + sigma * eps of each test sample."""
    B, S, Z = eps.shape
    mu, logvar = view.encode(x)
    z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps  # B x S x Z
    p_mu, p_logvar = view.prior(y)
    log_q = log_normal(z, mu[:, None], logvar[:, None])
    log_p_z = log_normal(z, p_mu[:, None], p_logvar[:, None])
    recon = view.decode(z.reshape(B * S, Z), y.repeat_interleave(S)).reshape(B, S, -1)
    return log_observation(x.flatten(1)[:, None], recon, view.bce) + log_p_z - log_q


@torch.no_grad()
def log_likelihood(
    view: GenerativeView,
    x: torch.Tensor,
    y: torch.Tensor,
    samples: int,
    generator: torch.Generator,
    rows_per_pass: int = 25600,
    noise: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Per-test-sample log-likelihood estimates (B), ``samples`` importance samples each, decoded in passes of
    about ``rows_per_pass`` rows. The noise comes from ``generator`` (never the global RNG), or is given (B x S x Z)."""
    # a transposed-conv decoder (images) holds about 16x a feature row in activations: fewer rows per pass
    chunk = max(1, rows_per_pass // samples // (IMAGE_ROW_COST if x.dim() > 2 else 1))
    out = []
    for s in range(0, len(x), chunk):
        xb, yb = x[s : s + chunk], y[s : s + chunk]
        if noise is None:
            eps = torch.randn(len(xb), samples, view.z_dim, generator=generator, device=generator.device).to(xb)
        else:
            eps = noise[s : s + chunk]
        out.append(torch.logsumexp(log_weights(view, xb, yb, eps), dim=1) - math.log(samples))
    return torch.cat(out)


@torch.no_grad()
def recon_error(view: GenerativeView, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Per-sample reconstruction error averaged over units (B): z = mu, the true label's gate, and the training's
    reconstruction loss (1/2 squared error for features, binary cross-entropy for pixels), as upstream."""
    out = []
    for s in range(0, len(x), batch):
        xb, yb = x[s : s + batch], y[s : s + batch]
        mu, _ = view.encode(xb)
        flat = xb.flatten(1)  # images: every value of every channel is a unit
        out.append(-log_observation(flat, view.decode(mu, yb).flatten(1), view.bce) / flat.shape[1])
    return torch.cat(out)
