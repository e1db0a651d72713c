"""Class-conditional random data of any shape, for tests and benchmarks.

Each class has a fixed prototype in [0, 1]; a sample is its prototype plus Gaussian noise, clipped to [0, 1]
(so the same data serve pixel-level BCE models and conv encoders alike).
"""

from __future__ import annotations

import torch

from birsweep.data.arrays import ArrayData


def make_synthetic(
    shape, n_classes: int, train_per_class: int, test_per_class: int, noise: float, seed: int
) -> ArrayData:
    g = torch.Generator().manual_seed(seed)
    shape = tuple(int(s) for s in shape)
    prototypes = torch.rand((n_classes,) + shape, generator=g)

    def draw(per_class: int):
        y = torch.arange(n_classes).repeat_interleave(per_class)
        x = prototypes[y] + noise * torch.randn((len(y),) + shape, generator=g)
        return x.clamp_(0.0, 1.0), y

    train_x, train_y = draw(train_per_class)
    test_x, test_y = draw(test_per_class)
    return ArrayData("synthetic", train_x, train_y, test_x, test_y, n_classes, 1.0)
