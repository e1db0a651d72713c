"""Image-level inputs: what the loop consumes when a model holds conv layers of its own (docs/method.md, Image-level
models) instead of reading the frozen encoder's cached features.

The images stay on the device as they came (``uint8`` for CIFAR: a quarter of the floats' memory) and become the
network's input (unit scale, per-channel standardised) when rows are taken, for a batch or an evaluation chunk.
The interface is the features' one (:class:`birsweep.data.features.Inputs`): ``train``/``test`` indexed by rows,
``train_batch``, ``ensure``, ``dim`` and ``n_pixels``.
"""

from __future__ import annotations

from typing import Callable

import torch

from birsweep.data.arrays import ArrayData, channel_normaliser
from birsweep.data.augment import crop_flip

Prepare = Callable[[torch.Tensor], torch.Tensor]


class ImageRows:
    """One split's images, turned into network inputs when indexed: ``rows[idx]`` is ``len(idx) x C x H x W``."""

    def __init__(self, images: torch.Tensor, prepare: Prepare):
        self.images, self.prepare = images, prepare

    @property
    def device(self) -> torch.device:
        return self.images.device

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return self.prepare(self.images[idx])


class ImageInputs:
    """Training and test images as inputs; ``dim`` is the width the conv layers hand to the fc layers."""

    def __init__(self, arrays: ArrayData, normalize: bool, augment: bool, dim: int, device: torch.device):
        normalise: Prepare = lambda x: x  # noqa: E731
        if normalize and arrays.mean is not None and arrays.std is not None:
            normalise = channel_normaliser(arrays.mean, arrays.std, device)
        self.normalise = normalise
        self.arrays, self.augment, self.dim = arrays, augment, dim
        self.n_pixels = int(torch.tensor(arrays.shape).prod())
        self.train = ImageRows(arrays.train_x.to(device), self.prepare)
        self.test = ImageRows(arrays.test_x.to(device), self.prepare)
        self.images = self.train.images

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return self.normalise(self.arrays.to_unit(images))

    def ensure(self, train_idx: torch.Tensor, test_idx: torch.Tensor) -> int:
        """Nothing to encode: the images are the inputs."""
        return 0

    @torch.no_grad()
    def train_batch(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.train[idx]
        return crop_flip(x) if self.augment else x
