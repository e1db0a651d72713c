"""The BI-R network (docs/method.md, Network): one VAE whose encoder carries the classifier, a GMM prior with one
mode per class, and decoder layers gated per class by fixed random masks (registered buffers, so checkpoints hold
them). The ablations (docs/method.md, Ablations) switch pieces off: ``gates=False`` (plain decoder layers),
``conditional=False`` (a standard normal prior), ``classifier=False`` (the separate generator of no-feedback BI-R).
Without internal replay (``method.internal=false``, docs/method.md, Internal replay) it holds the frozen conv
layers in front and a transposed-conv decoder behind, and so takes, reconstructs and replays images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import nn
from torch.nn import functional as F

from birsweep.models.classifier import hidden_sizes, relu_mlp


class GatedLinear(nn.Module):
    """Linear layer whose pre-activation is multiplied by ``gate @ mask`` (a soft or hard mix of class masks)."""

    mask: torch.Tensor  # a buffer (n_classes x n_out), registered in __init__

    def __init__(
        self, n_in: int, n_out: int, n_classes: int, dg_prop: float, generator: torch.Generator, gated: bool = True
    ):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.gated = gated
        if gated:  # each entry is 0 with probability dg_prop, independently (so ~dg_prop per class, not exactly)
            self.register_buffer("mask", (torch.rand(n_classes, n_out, generator=generator) >= dg_prop).float())

    def forward(self, x: torch.Tensor, gate: Optional[torch.Tensor]) -> torch.Tensor:
        out = self.linear(x)
        return out * (gate @ self.mask) if self.gated and gate is not None else out


@dataclass
class Forward:
    """Everything one training pass produces for a batch."""

    hE: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    recon: torch.Tensor  # decoder output before any sigmoid (logits for BCE models)
    logits: torch.Tensor


def cat_forward(a: Forward, b: Forward) -> Forward:
    """Two passes' outputs as one (current, then replayed)."""
    return Forward(*(torch.cat([x, y]) for x, y in zip(vars(a).values(), vars(b).values())))


class BIRNet(nn.Module):
    # typed as always present: only the ablations' own code meets the absent ones, and checks the flags first
    classifier: nn.Linear  # None when built with classifier=False (the separate generator)
    prior_mu: nn.Parameter  # prior_mu and prior_logvar are None with conditional=False (standard normal prior)
    prior_logvar: nn.Parameter

    def __init__(
        self,
        in_dim: int,
        n_classes: int,
        fc_layers: int = 3,
        fc_units: int = 2000,
        h_dim: int = 2000,
        z_dim: int = 100,
        dg_prop: float = 0.6,
        bce: bool = False,
        gate_seed: int = 0,
        gates: bool = True,
        conditional: bool = True,
        classifier: bool = True,
        conv: Optional[nn.Module] = None,
        deconv: Optional[nn.Module] = None,
    ):
        """``in_dim``: the fc layers' input width, the conv layers' output size when ``conv`` is given."""
        super().__init__()
        self.in_dim, self.n_classes, self.z_dim, self.bce = in_dim, n_classes, z_dim, bce
        self.gates, self.conditional = gates, conditional
        sizes: List[int] = [in_dim] + hidden_sizes(fc_layers, fc_units, h_dim)  # upstream's widths
        self.fcE = relu_mlp(sizes)
        self.to_mu = nn.Linear(sizes[-1], z_dim)
        self.to_logvar = nn.Linear(sizes[-1], z_dim, bias=False)
        self.has_classifier = classifier
        self.classifier = nn.Linear(sizes[-1], n_classes) if classifier else None  # type: ignore[assignment]
        gen = torch.Generator().manual_seed(gate_seed)
        down = sizes[::-1]  # h_dim ... fc_units, in_dim
        self.fromZ = GatedLinear(z_dim, down[0], n_classes, dg_prop, gen, gates)
        self.fcD = nn.ModuleList(
            GatedLinear(a, b, n_classes, dg_prop, gen, gates) for a, b in zip(down[:-2], down[1:-1])
        )
        self.out = nn.Linear(down[-2], down[-1])  # final decoder layer: not gated, no non-linearity
        if not conditional:
            self.prior_mu = self.prior_logvar = None  # type: ignore[assignment]
        else:
            self.prior_mu = nn.Parameter(torch.randn(n_classes, z_dim))
            self.prior_logvar = nn.Parameter(torch.randn(n_classes, z_dim))  # N(0, 1) as upstream, not zeros
        self.convE, self.convD = conv, deconv  # images -> features (frozen), features -> images; None: features

    @property
    def separate_passes(self) -> bool:
        """The deconv decoder's batch-norm: current and replayed samples take a pass each, as upstream."""
        return self.convD is not None

    # --- pieces -----------------------------------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.convE is None else self.convE(x).flatten(1)

    def encode(self, x: torch.Tensor):
        hE = self.fcE(self.features(x))
        return hE, self.to_mu(hE), self.to_logvar(hE)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of all classes, from the hidden representation before z (upstream 'beforeZ')."""
        assert self.has_classifier, "a separate generator has no classifier"
        return self.classifier(self.fcE(self.features(x)))

    def decode(self, z: torch.Tensor, gate: Optional[torch.Tensor]) -> torch.Tensor:
        h = torch.relu(self.fromZ(z, gate))
        for layer in self.fcD:
            h = torch.relu(layer(h, gate))
        h = self.out(h)
        return h if self.convD is None else self.convD(torch.relu(h))  # ReLU before deconv layers, as upstream

    def output(self, recon: torch.Tensor) -> torch.Tensor:
        """Decoder output in data space: features as they are, pixels through a sigmoid."""
        return torch.sigmoid(recon) if self.bce else recon

    def forward(self, x: torch.Tensor, gate: torch.Tensor, eps: Optional[torch.Tensor] = None) -> Forward:
        """``eps``: the latent noise, drawn here when not given (the batched step draws it per trial)."""
        hE, mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * (torch.randn_like(mu) if eps is None else eps)
        logits = self.classifier(hE) if self.has_classifier else hE[:, :0]
        return Forward(hE, mu, logvar, z, self.decode(z, gate), logits)

    @torch.no_grad()
    def generate(
        self, classes: torch.Tensor, generator: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Replay samples of the given classes: z from the class's prior mode, decoded with its hard gate.

        Without the conditional prior z is standard normal (the class then only picks the gate, as upstream's
        ``sample``: without gates too it has no effect). ``generator`` (on any device) draws the noise instead of
        the global RNG, e.g. for samples that are shown but must leave the run's random streams alone; ``noise``
        is that draw given (the batched step draws it per trial)."""
        shape = (len(classes), self.z_dim)
        like = self.out.weight
        if noise is None and generator is None:
            noise = torch.randn(shape, device=like.device, dtype=like.dtype)
        elif noise is None:
            assert generator is not None
            noise = torch.randn(shape, generator=generator, device=generator.device).to(like)
        z = noise
        if self.conditional:
            z = self.prior_mu[classes] + torch.exp(0.5 * self.prior_logvar[classes]) * noise
        gate = F.one_hot(classes, self.n_classes).to(z.dtype)
        return self.output(self.decode(z, gate))

    def si_parameters(self) -> List[nn.Parameter]:
        """The parameters SI collects importance for: fcE and the classifier, the original's choice, kept
        (docs/method.md, Synaptic Intelligence)."""
        head = list(self.classifier.parameters()) if self.has_classifier else []
        return list(self.fcE.parameters()) + head
