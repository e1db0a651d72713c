"""The transposed-conv decoder of image-level VAEs (docs/method.md, Image-level models): the mirror of the
C3-5x16-bn encoder, as upstream's ``DeconvLayers`` (``models/conv/nets.py``) builds it for that encoder.

256x2x2 -> 128x4x4 -> 64x8x8 -> 32x16x16 -> 16x32x32: each of the first ``depth - 1`` layers doubles the resolution
and halves the channels (kernel 4, stride 2, padding 1) with batch-norm and ReLU; the last one maps to the image
channels (kernel 3, stride 1, padding 1) without batch-norm, linear for standardised images and through a sigmoid
for images in [0, 1].
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import nn


class DeconvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, reducing: bool, last: bool, sigmoid: bool):
        super().__init__()
        kernel, stride = (4, 2) if reducing else (3, 1)
        self.deconv = nn.ConvTranspose2d(c_in, c_out, kernel_size=kernel, stride=stride, padding=1, bias=True)
        self.bn = None if last else nn.BatchNorm2d(c_out)
        self.last, self.sigmoid = last, sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.deconv(x)
        if not self.last:
            assert self.bn is not None
            return torch.relu(self.bn(x))
        return torch.sigmoid(x) if self.sigmoid else x


class DeconvDecoder(nn.Module):
    """Flat ``channels * 2**(depth-1) * s * s`` vectors (the encoder's output size) -> images ``C x H x W``."""

    def __init__(self, image_shape: Tuple[int, ...], depth: int = 5, channels: int = 16, sigmoid: bool = False):
        super().__init__()
        self.depth = depth
        self.in_channels = channels * 2 ** (depth - 1)
        side = image_shape[-1] // 2 ** (depth - 1)
        self.in_shape = (self.in_channels, side, side)
        c = self.in_channels
        for i in range(1, depth + 1):
            last = i == depth
            c_out = image_shape[0] if last else c // 2
            self.add_module(f"deconvLayer{i}", DeconvBlock(c, c_out, reducing=not last, last=last, sigmoid=sigmoid))
            c = c_out

    @property
    def in_units(self) -> int:
        return self.in_shape[0] * self.in_shape[1] * self.in_shape[2]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = h.reshape(len(h), *self.in_shape)
        for i in range(1, self.depth + 1):
            x = getattr(self, f"deconvLayer{i}")(x)
        return x
