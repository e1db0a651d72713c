"""Class-conditional random data of any shape, for tests and benchmarks.

Each class has a fixed prototype in [0, 1]; a sample is its prototype plus Gaussian noise, clipped to [0, 1]
(so the same data serve pixel-level BCE models and conv encoders alike).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import torch

from birsweep.data.arrays import ArrayData
from birsweep.data.sources import DataSource, register_source


@dataclass
class SyntheticConfig:
    """``data.synthetic``: the data set's own options."""

    shape: List[int] = field(default_factory=lambda: [1, 8, 8])  # C x H x W of one sample
    n_classes: int = 10
    train_per_class: int = 100
    test_per_class: int = 20
    noise: float = 0.5  # std of the per-sample noise around each class prototype
    data_seed: int = 0  # the data are a fixed dataset: they do not change with the run's seed


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


def _load(_root: str, _download: bool, s: SyntheticConfig) -> ArrayData:
    return make_synthetic(s.shape, s.n_classes, s.train_per_class, s.test_per_class, s.noise, s.data_seed)


register_source(DataSource("synthetic", _load, config=SyntheticConfig))  # its shape: data.synthetic.shape
