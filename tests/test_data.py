"""Data sources in their real on-disk formats, the class-incremental stream and batching."""

import urllib.error

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from birsweep.data.augment import crop_flip, pad_symmetric
from birsweep.data.datasets import cifar as cifar_mod
from birsweep.data.datasets.digits import load_digits_data
from birsweep.data.datasets.mnist import load_mnist_like, read_idx
from birsweep.data.sources import load_source
from birsweep.data.stream import ClassIncrementalStream, IndexBatches
from birsweep.errors import ConfigError, DataNotFoundError
from tests.fakedata import write_cifar10, write_cifar100, write_mnist_like

# original CIFAR-100 ids per task for seed 0 (the original BI-R code's class order; docs/method.md, Class-incremental
# split)
SPEC_SEED0 = {
    0: [52, 40, 2, 22, 44, 49, 26, 14, 19, 94],
    1: [60, 56, 87, 13, 68, 45, 6, 46, 36, 70],
    2: [76, 92, 16, 58, 17, 80, 0, 35, 54, 71],
    9: [32, 50, 11, 5, 77, 9, 95, 73, 74, 27],
}


def test_class_order_is_upstreams_for_seed_0():
    y = torch.arange(100)
    stream = ClassIncrementalStream(y, y, 100, 10, seed=0)
    for task, ids in SPEC_SEED0.items():
        assert stream.original_classes(task) == ids


def test_stream_partitions_classes_into_equal_tasks_with_global_labels():
    y = torch.arange(10).repeat_interleave(7)
    stream = ClassIncrementalStream(y, y[:30], 10, 5, seed=3)
    seen = torch.cat([stream.train_y[i] for i in stream.train_idx])
    assert sorted(seen.tolist()) == sorted(stream.train_y.tolist())
    for k, idx in enumerate(stream.train_idx):
        assert len(idx) == 14 and set(stream.train_y[idx].tolist()) == {2 * k, 2 * k + 1}
    assert ClassIncrementalStream(y, y, 10, 5, seed=4).original_classes(0) != stream.original_classes(0)
    with pytest.raises(ConfigError, match="does not divide"):
        ClassIncrementalStream(y, y, 10, 3, seed=0)


def test_index_batches_reshuffle_each_pass_and_drop_the_last_partial_batch():
    torch.manual_seed(0)
    batches = IndexBatches(torch.arange(10, 20), 3)  # 3 batches per pass, one index left out each pass
    first = [next(batches) for _ in range(3)]
    second = [next(batches) for _ in range(3)]
    for one_pass in (first, second):
        flat = torch.cat(one_pass)
        assert len(flat) == 9 and len(set(flat.tolist())) == 9 and flat.min() >= 10 and flat.max() < 20
    assert not torch.equal(torch.cat(first), torch.cat(second))
    with pytest.raises(ConfigError, match="fewer than trainer.batch_size"):
        IndexBatches(torch.arange(5), 8)


def test_digits_are_real_and_split_stratified():
    d = load_digits_data()
    assert len(d.train_x) + len(d.test_x) == 1797 and d.shape == (1, 8, 8) and d.max_value == 16
    assert d.train_x.dtype == torch.uint8 and int(d.train_x.max()) == 16
    counts = torch.bincount(d.test_y, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of each ~180-image class
    assert torch.equal(load_digits_data().test_y, d.test_y)  # fixed split


def test_fashion_mnist_from_debian_style_gzipped_idx(tmp_path):
    arrays = write_mnist_like(str(tmp_path / "fashion-mnist"), gz=True)
    d = load_mnist_like("fashion_mnist", str(tmp_path), download=False)
    assert d.train_x.shape == (60, 1, 28, 28) and d.test_x.shape == (20, 1, 28, 28)
    assert np.array_equal(d.train_x[:, 0].numpy(), arrays["train"][0])
    assert np.array_equal(d.test_y.numpy(), arrays["t10k"][1])


def test_mnist_through_torchvisions_layout(tmp_path):
    arrays = write_mnist_like(str(tmp_path / "MNIST" / "raw"), gz=False)
    d = load_mnist_like("mnist", str(tmp_path), download=False)
    assert np.array_equal(d.train_x[:, 0].numpy(), arrays["train"][0])
    assert d.train_y.dtype == torch.int64 and d.n_classes == 10


def test_read_idx_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 10)
    with pytest.raises(ValueError, match="header says"):
        read_idx(str(path))


def test_cifar100_and_cifar10_pickles(tmp_path):
    write_cifar100(str(tmp_path), per_class_train=3, per_class_test=1)
    write_cifar10(str(tmp_path), per_class_train=4, per_class_test=2)
    c100 = load_source(OmegaConf.create({"name": "cifar100", "root": str(tmp_path), "download": False}))
    assert c100.train_x.shape == (300, 3, 32, 32) and c100.test_x.shape == (100, 3, 32, 32)
    assert sorted(torch.bincount(c100.train_y).tolist()) == [3] * 100 and c100.mean[0] == 0.5071
    c10 = load_source(OmegaConf.create({"name": "cifar10", "root": str(tmp_path), "download": False}))
    assert c10.train_x.shape == (40, 3, 32, 32) and c10.n_classes == 10 and c10.mean[0] == 0.4914


def test_missing_cifar_offline_names_path_and_download(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", offline)
    with pytest.raises(DataNotFoundError) as err:
        cifar_mod.load_cifar("cifar100", str(tmp_path), download=True)
    msg = str(err.value)
    assert str(tmp_path / "cifar-100-python") in msg and "cifar-100-python.tar.gz" in msg
    assert "download failed" in msg and "\n" not in msg
    with pytest.raises(DataNotFoundError, match="data.download=false"):
        cifar_mod.load_cifar("cifar100", str(tmp_path), download=False)


def test_symmetric_padding_mirrors_the_edge_pixel():
    x = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    padded = pad_symmetric(x, 2)
    assert padded[0, 0, 0].tolist() == [1, 0, 0, 1, 2, 3, 3, 2]  # numpy 'symmetric'
    assert np.array_equal(padded[0, 0].numpy(), np.pad(x[0, 0].numpy(), 2, mode="symmetric"))


def test_crop_flip_returns_crops_of_the_padded_image():
    torch.manual_seed(1)
    x = torch.randn(64, 3, 32, 32)
    out = crop_flip(x)
    assert out.shape == x.shape
    padded = pad_symmetric(x, 4)
    flipped = 0
    for i in range(64):
        windows = [padded[i, :, a : a + 32, b : b + 32] for a in range(9) for b in range(9)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or mirrored
        flipped += int(mirrored and not plain)
    assert 15 < flipped < 49  # about half are flipped


def test_mnist_like_data_keep_the_natural_order_for_seeds_below_10():
    y = torch.arange(10)
    for seed in (0, 9):
        stream = ClassIncrementalStream(y, y, 10, 5, seed, natural_order_below_seed=10)
        assert [stream.original_classes(k) for k in range(5)] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    inverse = np.argsort(np.random.RandomState(10).permutation(10))
    assert (
        ClassIncrementalStream(y, y, 10, 5, 10, natural_order_below_seed=10).original_classes(0) == inverse[:2].tolist()
    )
    assert ClassIncrementalStream(y, y, 10, 5, 0).original_classes(0) == [8, 4]  # CIFAR's rule: always permuted
