"""The separate generator of standard generative replay (docs/method.md, Methods: GR): a VAE with the main
model's fc sizes, a standard normal prior, no classifier and no gates (upstream ``AutoEncoder`` built with
``classifier=False``, ``prior="standard"``, ``dg_gates=False``)."""

from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from birsweep.models.classifier import hidden_sizes, relu_mlp


class VAEGenerator(nn.Module):
    def __init__(self, in_dim: int, fc_layers: int, fc_units: int, h_dim: int, z_dim: int, bce: bool):
        super().__init__()
        self.in_dim, self.z_dim, self.bce = in_dim, z_dim, bce
        sizes = [in_dim] + hidden_sizes(fc_layers, fc_units, h_dim)
        self.fcE = relu_mlp(sizes)
        self.to_mu = nn.Linear(sizes[-1], z_dim)
        self.to_logvar = nn.Linear(sizes[-1], z_dim, bias=False)  # as the BI-R network
        down = sizes[::-1]
        self.fromZ = nn.Sequential(nn.Linear(z_dim, down[0]), nn.ReLU())
        self.fcD = relu_mlp(down[:-1])
        self.out = nn.Linear(down[-2], down[-1])  # linear: logits for pixels (BCE), features as they are (MSE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.fcD(self.fromZ(z)))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(decoder output before any sigmoid, mu, logvar) with one latent sample per input."""
        hE = self.fcE(x)
        mu, logvar = self.to_mu(hE), self.to_logvar(hE)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def generate(self, n: int) -> torch.Tensor:
        """``n`` samples from the standard normal prior, in data space (pixels through a sigmoid)."""
        z = torch.randn(n, self.z_dim, device=self.out.weight.device)
        recon = self.decode(z)
        return torch.sigmoid(recon) if self.bce else recon
