"""The plain classifier the non-BI-R methods train (docs/method.md, Methods): upstream's ``Classifier``, i.e. the BI-R
network's encoder path (fc layers and output layer) with no decoder, latent or prior; on CIFAR with
``method.train_conv`` it holds the pre-trained conv layers in front and trains them too."""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import torch
from torch import nn


def hidden_sizes(fc_layers: int, fc_units: int, h_dim: int) -> List[int]:
    """Hidden widths as upstream: linspace(fc_units, h_dim) over the ``fc_layers - 1`` hidden layers."""
    return [h_dim] if fc_layers == 2 else [int(s) for s in np.linspace(fc_units, h_dim, num=fc_layers - 1)]


def relu_mlp(sizes: List[int]) -> nn.Sequential:
    layers: List[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class Classifier(nn.Module):
    def __init__(
        self,
        in_dim: int,
        n_classes: int,
        fc_layers: int = 3,
        fc_units: int = 2000,
        h_dim: int = 2000,
        conv: Optional[nn.Module] = None,
    ):
        """``in_dim`` is the fc layers' input width (the conv layers' output size when ``conv`` is given)."""
        super().__init__()
        self.in_dim, self.n_classes = in_dim, n_classes
        self.convE = conv  # images -> features; None: the inputs are features (or pixels) already
        sizes = [in_dim] + hidden_sizes(fc_layers, fc_units, h_dim)
        self.fcE = relu_mlp(sizes)
        self.classifier = nn.Linear(sizes[-1], n_classes)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of all classes."""
        h = x if self.convE is None else self.convE(x).flatten(1)
        return self.classifier(self.fcE(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(x)

    @property
    def separate_passes(self) -> bool:
        """Current and replayed inputs need passes of their own: trainable conv layers carry batch-norm, whose
        batch statistics would mix the two (upstream passes them separately)."""
        return self.convE is not None and any(p.requires_grad for p in self.convE.parameters())

    def si_parameters(self) -> List[nn.Parameter]:
        """Every trainable parameter (conv layers included when trained): upstream's SI and EWC regularise all
        trainable parameters of the classifier."""
        return [p for p in self.parameters() if p.requires_grad]
