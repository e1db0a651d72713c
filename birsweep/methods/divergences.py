"""Divergences between diagonal Gaussians, per sample, summed over latent dimensions."""

from __future__ import annotations

import torch

# log-variances are clamped here so that an extreme posterior gives a large but finite divergence (and gradient)
LOGVAR_RANGE = (-30.0, 30.0)


def _clamp(logvar: torch.Tensor) -> torch.Tensor:
    return logvar.clamp(*LOGVAR_RANGE)


def kl_diag(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor, logvar2: torch.Tensor) -> torch.Tensor:
    """KL(N(mu1, e^lv1) || N(mu2, e^lv2)) = 1/2 sum[s1^2/s2^2 + (mu2-mu1)^2/s2^2 + log s2^2 - log s1^2 - 1]."""
    logvar1, logvar2 = _clamp(logvar1), _clamp(logvar2)
    return 0.5 * (torch.exp(logvar1 - logvar2) + (mu2 - mu1) ** 2 * torch.exp(-logvar2) + logvar2 - logvar1 - 1.0).sum(
        -1
    )


def js_midpoint(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor, logvar2: torch.Tensor) -> torch.Tensor:
    """The fork's "JS": 1/2 [KL(q1 || M) + KL(q2 || M)] with M = N((mu1+mu2)/2, (s1^2+s2^2)/4).

    M is the law of the average of two independent draws, not the mixture (q1+q2)/2, so this is an
    approximation of Jensen-Shannon and is not bounded by log 2; kept for fidelity with the fork.
    """
    logvar1, logvar2 = _clamp(logvar1), _clamp(logvar2)
    mu_m = 0.5 * (mu1 + mu2)
    logvar_m = torch.log(torch.exp(logvar1) + torch.exp(logvar2)) - 2 * torch.log(torch.tensor(2.0))
    return 0.5 * (kl_diag(mu1, logvar1, mu_m, logvar_m) + kl_diag(mu2, logvar2, mu_m, logvar_m))


DIVERGENCES = {"kl": kl_diag, "js": js_midpoint}
