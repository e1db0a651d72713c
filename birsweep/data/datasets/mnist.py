"""MNIST and Fashion-MNIST: torchvision's loader (with download), or gzipped IDX files such as the ones
Debian's ``dataset-fashion-mnist`` package installs in /usr/share/datasets/fashion-mnist."""

from __future__ import annotations

import gzip
import os
from typing import Any, List, Optional

import numpy as np
import torch

from birsweep.data.arrays import ArrayData
from birsweep.data.download import fetch_or_explain
from birsweep.data.sources import DataSource, Loader, register_source

TV_CLASS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # torchvision's classes (their folder names too)
GZ_DIRS = {
    "mnist": ["mnist", "MNIST"],
    "fashion_mnist": ["fashion-mnist", "fashion_mnist", "/usr/share/datasets/fashion-mnist"],
}
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_DTYPE = {0x08: np.uint8}


def read_idx(path: str) -> np.ndarray:
    """Parse one IDX file (optionally gzipped): magic 0x0000 <dtype> <ndim>, big-endian dims, then the data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPE:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=IDX_DTYPE[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {data.size} values")
    return data.reshape(dims)


def _gz_folder(name: str, root: str) -> Optional[str]:
    candidates: List[str] = [root] + [d if os.path.isabs(d) else os.path.join(root, d) for d in GZ_DIRS[name]]
    for folder in candidates:
        if all(os.path.isfile(os.path.join(folder, f + ".gz")) for f in IDX_FILES):
            return folder
    return None


def _from_idx(name: str, folder: str) -> ArrayData:
    tr_x, tr_y, te_x, te_y = (torch.from_numpy(read_idx(os.path.join(folder, f + ".gz")).copy()) for f in IDX_FILES)
    return ArrayData(name, tr_x.unsqueeze(1), tr_y.long(), te_x.unsqueeze(1), te_y.long(), 10, 255.0)


def _torchvision_class(name: str) -> Any:
    import torchvision  # only for its files' layout and the download (its import costs seconds)

    return getattr(torchvision.datasets, TV_CLASS[name])


def _from_torchvision(name: str, root: str) -> ArrayData:
    tv = _torchvision_class(name)
    train, test = tv(root=root, train=True, download=False), tv(root=root, train=False, download=False)
    return ArrayData(
        name, train.data.unsqueeze(1), train.targets.long(), test.data.unsqueeze(1), test.targets.long(), 10, 255.0
    )


def load_mnist_like(name: str, root: str, download: bool) -> ArrayData:
    raw_dir = os.path.join(root, TV_CLASS[name], "raw")
    if all(os.path.isfile(os.path.join(raw_dir, f)) for f in IDX_FILES):
        return _from_torchvision(name, root)
    folder = _gz_folder(name, root)
    if folder is not None:
        return _from_idx(name, folder)
    tv = _torchvision_class(name)
    fetch_or_explain(
        what=tv.__name__,
        expected=raw_dir,
        url=tv.mirrors[0],
        download=download,
        fetch=lambda: tv(root=root, train=True, download=True),
    )
    return _from_torchvision(name, root)


def _loader(name: str) -> Loader:
    return lambda root, download, _options: load_mnist_like(name, root, download)


for _name in TV_CLASS:
    register_source(DataSource(_name, _loader(_name), shape=(1, 28, 28)))
