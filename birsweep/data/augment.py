"""Upstream's CIFAR augmentation (random crop 32 with symmetric padding 4, horizontal flip), batched on the device.

Padding and cropping commute with per-channel normalisation, so this runs on normalised images.
"""

from __future__ import annotations

import torch


def pad_symmetric(x: torch.Tensor, p: int) -> torch.Tensor:
    """numpy's 'symmetric' padding of the last two dims: mirror including the edge pixel."""
    x = torch.cat([x[..., :p].flip(-1), x, x[..., -p:].flip(-1)], dim=-1)
    return torch.cat([x[..., :p, :].flip(-2), x, x[..., -p:, :].flip(-2)], dim=-2)


def crop_flip(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Per sample: a random crop of the original size from the padded image, then a flip with probability 1/2."""
    B, C, H, W = x.shape
    padded = pad_symmetric(x, pad).permute(0, 2, 3, 1)  # B x H+2p x W+2p x C
    oy = torch.randint(0, 2 * pad + 1, (B, 1), device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (B, 1), device=x.device)
    rows = (oy + torch.arange(H, device=x.device)).unsqueeze(2)  # B x H x 1
    cols = (ox + torch.arange(W, device=x.device)).unsqueeze(1)  # B x 1 x W
    out = padded[torch.arange(B, device=x.device).view(B, 1, 1), rows, cols].permute(0, 3, 1, 2)
    flip = torch.rand(B, device=x.device) < 0.5
    return torch.where(flip.view(B, 1, 1, 1), out.flip(-1), out)
