"""The separate generator of standard generative replay (docs/method.md, Methods: GR): a VAE with the main
model's fc sizes, a standard normal prior, no classifier and no gates (upstream ``AutoEncoder`` built with
``classifier=False``, ``prior="standard"``, ``dg_gates=False``). At the image level (CIFAR with
``method.train_conv``) it holds conv layers of its own in front and the transposed-conv decoder behind, as
upstream's generator with ``hidden=False`` (docs/method.md, Image-level models)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from birsweep.models.classifier import hidden_sizes, relu_mlp


class VAEGenerator(nn.Module):
    def __init__(
        self,
        in_dim: int,
        fc_layers: int,
        fc_units: int,
        h_dim: int,
        z_dim: int,
        bce: bool,
        conv: Optional[nn.Module] = None,
        deconv: Optional[nn.Module] = None,
    ):
        """``in_dim``: the fc layers' input width (the conv layers' output size when ``conv`` is given)."""
        super().__init__()
        self.in_dim, self.z_dim, self.bce = in_dim, z_dim, bce
        self.convE = conv
        sizes = [in_dim] + hidden_sizes(fc_layers, fc_units, h_dim)
        self.fcE = relu_mlp(sizes)
        self.to_mu = nn.Linear(sizes[-1], z_dim)
        self.to_logvar = nn.Linear(sizes[-1], z_dim, bias=False)  # as the BI-R network
        down = sizes[::-1]
        self.fromZ = nn.Sequential(nn.Linear(z_dim, down[0]), nn.ReLU())
        self.fcD = relu_mlp(down[:-1])
        self.out = nn.Linear(down[-2], down[-1])  # linear: logits for pixels (BCE), features as they are (MSE)
        self.convD = deconv  # with it, ``out`` is followed by a ReLU (upstream's fc output before deconv layers)

    @property
    def separate_passes(self) -> bool:
        """Batch-norm in the conv or deconv layers: current and replayed inputs take passes of their own."""
        return self.convE is not None or self.convD is not None

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.out(self.fcD(self.fromZ(z)))
        return h if self.convD is None else self.convD(torch.relu(h))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(decoder output before any sigmoid, mu, logvar) with one latent sample per input."""
        hE = self.fcE(x if self.convE is None else self.convE(x).flatten(1))
        mu, logvar = self.to_mu(hE), self.to_logvar(hE)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def generate(self, n: int) -> torch.Tensor:
        """``n`` samples from the standard normal prior, in data space (pixels through a sigmoid)."""
        z = torch.randn(n, self.z_dim, device=self.out.weight.device)
        recon = self.decode(z)
        return torch.sigmoid(recon) if self.bce else recon
