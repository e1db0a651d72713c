"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, values 0..16): real data that ships offline."""

from __future__ import annotations

import numpy as np
import torch

from birsweep.data.arrays import ArrayData
from birsweep.data.sources import DataSource, register_source

TEST_FRACTION = 0.2
SPLIT_SEED = 0  # the split is part of the dataset, fixed whatever the run's seed


def load_digits_data() -> ArrayData:
    from sklearn.datasets import load_digits  # its import costs a second; only runs on digits need it

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.uint8)).unsqueeze(1)  # N x 1 x 8 x 8, values 0..16
    y = torch.from_numpy(bunch.target.astype(np.int64))
    # stratified fixed split: within each class, a fixed random 20% goes to the test set
    rng = np.random.RandomState(SPLIT_SEED)
    test_mask = np.zeros(len(y), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(bunch.target == c)
        test_mask[rng.choice(idx, int(round(TEST_FRACTION * len(idx))), replace=False)] = True
    test = torch.from_numpy(test_mask)
    return ArrayData("digits", x[~test], y[~test], x[test], y[test], 10, 16.0)


register_source(DataSource("digits", lambda _root, _download, _options: load_digits_data(), shape=(1, 8, 8)))
