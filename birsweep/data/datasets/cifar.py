"""CIFAR-10/100 from the python-pickle files torchvision downloads (``cifar-10-batches-py``, ``cifar-100-python``).

torchvision does the download and its checksum; the files are parsed here, so any copy in the same on-disk
format (for instance one copied from another machine) loads without a network.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import torch

from birsweep.data.arrays import ArrayData
from birsweep.data.download import fetch_or_explain
from birsweep.data.sources import DataSource, Loader, register_source

# per-channel statistics used by upstream BI-R (docs/method.md, Convolutional encoder)
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2761)),
}
LAYOUT = {
    # name: (folder, train files, test files, label key, torchvision class name, n_classes)
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
        "labels",
        "CIFAR10",
        10,
    ),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels", "CIFAR100", 100),
}


def _read_batches(folder: str, files, label_key: str):
    xs, ys = [], []
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        entry = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
        xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(entry[label_key], dtype=np.int64))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


def load_cifar(name: str, root: str, download: bool) -> ArrayData:
    folder_name, train_files, test_files, label_key, tv_name, n_classes = LAYOUT[name]
    folder = os.path.join(root, folder_name)
    needed = [os.path.join(folder, f) for f in train_files + test_files]
    if not all(os.path.isfile(p) for p in needed):
        import torchvision  # only to download (its import costs seconds)

        tv_class = getattr(torchvision.datasets, tv_name)
        fetch_or_explain(
            what=name.upper().replace("CIFAR", "CIFAR-"),
            expected=folder,
            url=tv_class.url,
            download=download,
            fetch=lambda: tv_class(root=root, train=True, download=True),
        )
    train_x, train_y = _read_batches(folder, train_files, label_key)
    test_x, test_y = _read_batches(folder, test_files, label_key)
    mean, std = STATS[name]
    return ArrayData(name, train_x, train_y, test_x, test_y, n_classes, 255.0, mean, std)


def _loader(name: str) -> Loader:
    return lambda root, download, _options: load_cifar(name, root, download)


for _name in LAYOUT:
    register_source(DataSource(_name, _loader(_name), shape=(3, 32, 32)))
