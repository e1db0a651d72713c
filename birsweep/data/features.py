"""What the training loop consumes: one vector per sample, on the device.

With the frozen conv encoder (BN in eval mode, no augmentation) its output is a fixed function of each image,
so features are computed once per dataset and encoder and cached on disk (docs/method.md, Convolutional
encoder); a run without the cache encodes each task's images when it reaches the task, so it starts training
after one task's worth of encoding (birsweep/data/lazy_features.py). With ``data.augment`` the current images are
augmented and encoded per batch instead. Pixel-level models use the flattened pixels.
The encoder is any frozen module; its parameters and buffers key the cache, so this layer needs no model code.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Callable, Optional

import torch
from torch import nn

from birsweep.data.arrays import ArrayData, channel_normaliser
from birsweep.data.augment import crop_flip
from birsweep.data.lazy_features import EncodedSet
from birsweep.io import atomic_write

log = logging.getLogger(__name__)


class Inputs:
    """Input vectors of the training and test sets, and (when kept) the raw training images they come from.

    ``encode(images)`` maps normalised images to input vectors: the frozen encoder, or a flatten for pixel models.
    Encoder features are made task by task (:meth:`ensure`, birsweep/data/lazy_features.py): ``train`` and
    ``test`` hold every row, but only the rows of the tasks ensured so far are filled in.
    """

    def __init__(
        self,
        train: EncodedSet,
        test: EncodedSet,
        n_pixels: int,
        dim: int,
        encode: Callable[[torch.Tensor], torch.Tensor],
        normalise: Callable[[torch.Tensor], torch.Tensor],
        arrays: Optional[ArrayData] = None,
        images: Optional[torch.Tensor] = None,
        augment: bool = False,
        on_complete: Optional[Callable[[torch.Tensor, torch.Tensor], None]] = None,
    ):
        self.train_set, self.test_set, self.n_pixels, self.dim = train, test, n_pixels, dim
        self.encode, self.normalise = encode, normalise
        self.arrays, self.images, self.augment = arrays, images, augment
        self.on_complete = on_complete  # called once when every row is there (writes the feature cache)

    @property
    def train(self) -> torch.Tensor:
        return self._features(self.train_set)

    @property
    def test(self) -> torch.Tensor:
        return self._features(self.test_set)

    def _features(self, encoded: EncodedSet) -> torch.Tensor:
        if encoded.features is None:
            raise RuntimeError(f"no {encoded.name} features encoded yet: call Inputs.ensure for the task first")
        return encoded.features

    def ensure(self, train_idx: torch.Tensor, test_idx: torch.Tensor) -> int:
        """Make the features of these training and test samples (a task's, before it trains or is evaluated);
        returns how many images were encoded."""
        n = self.train_set.ensure(train_idx) + self.test_set.ensure(test_idx)
        if n and self.on_complete is not None and self.train_set.complete and self.test_set.complete:
            self.on_complete(self.train, self.test)
            self.on_complete = None
        return n

    def unit_images(self, idx: torch.Tensor) -> torch.Tensor:
        """Training images as float in [0, 1] (only when images are kept)."""
        if self.arrays is None or self.images is None:
            raise RuntimeError("the training images were not kept (they are with data.augment or keep_images)")
        return self.arrays.to_unit(self.images[idx])

    @torch.no_grad()
    def train_batch(self, idx: torch.Tensor) -> torch.Tensor:
        if not self.augment:
            return self.train[idx]
        return self.encode(crop_flip(self.normalise(self.unit_images(idx))))


def data_digest(arrays: ArrayData) -> str:
    """Content hash of a dataset's arrays (keys the feature cache and the evaluation classifier's)."""
    h = hashlib.blake2b(digest_size=12)
    for t in (arrays.train_x, arrays.train_y, arrays.test_x, arrays.test_y):
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def state_digest(module: nn.Module) -> str:
    """Content hash of a module's parameters and buffers (keys the feature cache)."""
    h = hashlib.blake2b(digest_size=12)
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _normaliser(arrays: ArrayData, normalize: bool, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """Unit images -> the network's input scale (per-channel standardisation for CIFAR, identity otherwise)."""
    if normalize and arrays.mean is not None and arrays.std is not None:
        return channel_normaliser(arrays.mean, arrays.std, device)
    return lambda x: x


def _feature_cache(arrays: ArrayData, encoder: nn.Module, normalize: bool, cache_dir: str) -> str:
    key = hashlib.blake2b(
        f"{arrays.name}|{normalize}|{arrays.mean}|{arrays.std}|{data_digest(arrays)}|{state_digest(encoder)}".encode(),
        digest_size=12,
    ).hexdigest()
    return os.path.join(os.path.expanduser(cache_dir), "features", f"{arrays.name}-{key}.pt")


def _save_features(path: str, name: str) -> Callable[[torch.Tensor, torch.Tensor], None]:
    def save(train: torch.Tensor, test: torch.Tensor) -> None:
        atomic_write(path, lambda tmp: torch.save({"train": train.cpu(), "test": test.cpu()}, tmp))
        log.info("cached %s features at %s", name, path)

    return save


@torch.no_grad()
def _feature_dim(encode: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor) -> int:
    """The encoder's output size, from a throw-away pass over one blank image (no row of the data is encoded)."""
    return int(encode(torch.zeros_like(image[None], dtype=torch.float32)).shape[1])


def build_inputs(
    arrays: ArrayData,
    encoder: Optional[nn.Module],
    normalize: bool,
    augment: bool,
    device: torch.device,
    cache_dir: str,
    keep_images: bool = False,
    progress: bool = True,
) -> Inputs:
    """Input vectors for training and evaluation; ``keep_images`` also keeps the training images on the device
    (needed by ``data.augment`` and by terms that make image views, such as the contrastive variant).

    Encoder features come whole from the cache, or are made task by task as the run asks (:meth:`Inputs.ensure`)
    and cached once complete."""
    n_pixels = int(torch.tensor(arrays.shape).prod())
    on_complete = None
    if encoder is None:
        normalise = lambda x: x  # noqa: E731  pixel models see unit pixels (BCE), never standardised ones
        encode = lambda x: x.reshape(len(x), -1)  # noqa: E731
        flat_train = encode(arrays.to_unit(arrays.train_x)).to(device)
        flat_test = encode(arrays.to_unit(arrays.test_x)).to(device)
        train = EncodedSet(arrays.train_x, encode, device, "train", features=flat_train)
        test = EncodedSet(arrays.test_x, encode, device, "test", features=flat_test)
        dim = flat_train.shape[1]
    else:
        normalise = _normaliser(arrays, normalize, device)
        encode = encoder

        def prepared(x: torch.Tensor) -> torch.Tensor:
            return encoder(normalise(arrays.to_unit(x)))

        path = _feature_cache(arrays, encoder, normalize, cache_dir)
        cached = torch.load(path, map_location=device, weights_only=True) if os.path.isfile(path) else None
        if cached is not None:
            train = EncodedSet(arrays.train_x, prepared, device, "train", features=cached["train"])
            test = EncodedSet(arrays.test_x, prepared, device, "test", features=cached["test"])
            dim = int(cached["test"].shape[1])
        else:
            train = EncodedSet(arrays.train_x, prepared, device, "train", progress)
            test = EncodedSet(arrays.test_x, prepared, device, "test", progress)
            dim = _feature_dim(prepared, arrays.train_x[0].to(device))
            on_complete = _save_features(path, arrays.name)
    images = arrays.train_x.to(device) if (keep_images or augment) else None
    return Inputs(train, test, n_pixels, dim, encode, normalise, arrays, images, augment, on_complete)
