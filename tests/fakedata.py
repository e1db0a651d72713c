"""Tiny datasets written in the exact on-disk formats of the real ones (CIFAR pickles, MNIST IDX files)."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np


def _cifar_images(rng, labels, n_classes):
    # class-dependent colour so that a classifier can learn something from a few images
    base = (np.arange(n_classes)[:, None] * np.array([37, 91, 53])[None, :]) % 256
    x = base[labels][:, :, None, None] + rng.randint(-40, 40, size=(len(labels), 3, 32, 32))
    return np.clip(x, 0, 255).astype(np.uint8).reshape(len(labels), 3072)


def write_cifar10(root, per_class_train=6, per_class_test=3, seed=0):
    """cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}."""
    rng = np.random.RandomState(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    labels = np.repeat(np.arange(10), per_class_train)
    rng.shuffle(labels)
    for i, part in enumerate(np.array_split(labels, 5), 1):
        _dump(
            os.path.join(folder, f"data_batch_{i}"),
            {
                "batch_label": f"training batch {i} of 5",
                "labels": part.tolist(),
                "data": _cifar_images(rng, part, 10),
                "filenames": [f"img{j}.png" for j in range(len(part))],
            },
        )
    test = np.repeat(np.arange(10), per_class_test)
    _dump(
        os.path.join(folder, "test_batch"),
        {
            "batch_label": "testing batch 1 of 1",
            "labels": test.tolist(),
            "data": _cifar_images(rng, test, 10),
            "filenames": [f"t{j}.png" for j in range(len(test))],
        },
    )
    _dump(
        os.path.join(folder, "batches.meta"),
        {"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": 10000, "num_vis": 3072},
    )
    return folder


def write_cifar100(root, per_class_train=5, per_class_test=2, seed=0):
    """cifar-100-python/{train, test, meta}."""
    rng = np.random.RandomState(seed)
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder, exist_ok=True)
    for name, per in (("train", per_class_train), ("test", per_class_test)):
        fine = np.repeat(np.arange(100), per)
        rng.shuffle(fine)
        _dump(
            os.path.join(folder, name),
            {
                "filenames": [f"{name}{j}.png" for j in range(len(fine))],
                "batch_label": f"{name} batch",
                "fine_labels": fine.tolist(),
                "coarse_labels": (fine // 5).tolist(),
                "data": _cifar_images(rng, fine, 100),
            },
        )
    _dump(
        os.path.join(folder, "meta"),
        {"fine_label_names": [f"f{i}" for i in range(100)], "coarse_label_names": [f"c{i}" for i in range(20)]},
    )
    return folder


def _dump(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX format: two zero bytes, dtype code 0x08 (ubyte), ndim, big-endian int32 dims, raw data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist_like(folder, n_train=60, n_test=20, seed=0, gz=True):
    """{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] with 28x28 images of 10 classes."""
    rng = np.random.RandomState(seed)
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        images[np.arange(n), labels, :] = 255  # a class-specific bright row
        arrays[prefix] = (images, labels)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            path = os.path.join(folder, f"{prefix}-{kind}-ubyte")
            data = idx_bytes(arr)
            if gz:
                with gzip.open(path + ".gz", "wb") as f:
                    f.write(data)
            else:
                with open(path, "wb") as f:
                    f.write(data)
    return arrays
