"""A data set added the way a new one is added: this module plus one YAML file, tests/conf/data/toy.yaml (see
tests/test_data_registry.py and docs/data.md, Adding a dataset).

Four classes of 6x6 grey images, class k a bright horizontal bar in rows k and k + 1 over dim noise: tiny, offline,
and learnable in a few iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from birsweep.data.arrays import ArrayData
from birsweep.data.sources import DataSource, register_source
from birsweep.declare import bounded

N_CLASSES = 4


@dataclass
class ToyConfig:
    """``data.toy``: the data set's own options, checked like any other key."""

    per_class: int = bounded(20, 1)  # training images per class (a quarter as many test images)


def _split(per_class: int, g: torch.Generator):
    y = torch.arange(N_CLASSES).repeat_interleave(per_class)
    x = torch.randint(0, 60, (len(y), 1, 6, 6), generator=g, dtype=torch.uint8)
    for k in range(N_CLASSES):
        x[y == k, :, k : k + 2, :] = 255
    return x, y


def load_toy(_root: str, _download: bool, options: ToyConfig) -> ArrayData:
    g = torch.Generator().manual_seed(0)  # a fixed data set
    train_x, train_y = _split(options.per_class, g)
    test_x, test_y = _split(max(1, options.per_class // 4), g)
    return ArrayData("toy", train_x, train_y, test_x, test_y, N_CLASSES, 255.0)


register_source(DataSource("toy", load_toy, shape=(1, 6, 6), config=ToyConfig))
