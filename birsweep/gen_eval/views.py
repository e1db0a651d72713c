"""What the generator evaluation needs of a generative model, for BI-R's network and GR's separate generator alike:
the encoder's posterior, the prior for a label, the decoder for a label, and the observation model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple

import torch
from torch.nn import functional as F

from birsweep.models.bir import BIRNet
from birsweep.models.vae import VAEGenerator


@dataclass
class GenerativeView:
    encode: Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]  # x -> (mu, logvar) of q(z|x)
    prior: Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]  # y -> (mu, logvar) of p(z|y), B x z_dim
    decode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (z, y) -> decoder output before any sigmoid
    bce: bool  # Bernoulli observation model on logits (pixels), else unit-variance Gaussian (features)
    z_dim: int


def bir_view(model: BIRNet) -> GenerativeView:
    """BI-R: the prior mode of the true label and the hard gate of the true label (upstream estimate_loglikelihood)."""

    def encode(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        _, mu, logvar = model.encode(x)
        return mu, logvar

    def prior(y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if not model.conditional:  # the no-conditional-replay ablation: a standard normal prior
            zeros = torch.zeros(len(y), model.z_dim, device=y.device)
            return zeros, zeros
        return model.prior_mu[y], model.prior_logvar[y]

    def decode(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return model.decode(z, F.one_hot(y, model.n_classes).to(z.dtype))

    return GenerativeView(encode, prior, decode, model.bce, model.z_dim)


def vae_view(gen: VAEGenerator) -> GenerativeView:
    """GR's separate generator: a standard normal prior and no gates, so the label is not used."""

    def encode(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = gen.fcE(x if gen.convE is None else gen.convE(x).flatten(1))
        return gen.to_mu(h), gen.to_logvar(h)

    def prior(y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(len(y), gen.z_dim, device=y.device)
        return zeros, zeros

    return GenerativeView(encode, prior, lambda z, y: gen.decode(z), gen.bce, gen.z_dim)
