"""Registry of data sources: ``data.name`` -> ArrayData."""

from __future__ import annotations

import os

from omegaconf import DictConfig

from birsweep.data.arrays import ArrayData


def load_source(data_cfg: DictConfig) -> ArrayData:
    name = data_cfg.name
    root = os.path.expanduser(str(data_cfg.root))
    if name in ("cifar10", "cifar100"):
        from birsweep.data.cifar import load_cifar

        return load_cifar(name, root, data_cfg.download)
    if name in ("mnist", "fashion_mnist"):
        from birsweep.data.mnist import load_mnist_like

        return load_mnist_like(name, root, data_cfg.download)
    if name == "digits":
        from birsweep.data.digits import load_digits_data

        return load_digits_data()
    if name == "synthetic":
        from birsweep.data.synthetic import make_synthetic

        s = data_cfg.synthetic
        return make_synthetic(s.shape, s.n_classes, s.train_per_class, s.test_per_class, s.noise, s.data_seed)
    raise ValueError(f"unknown data source {name!r}")  # config_check rejects this earlier
