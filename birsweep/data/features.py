"""What the training loop consumes: one vector per sample, on the device.

With the frozen conv encoder (BN in eval mode, no augmentation) its output is a fixed function of each image,
so features are computed once per dataset and encoder and cached on disk (docs/method.md, Convolutional
encoder). With ``data.augment`` the current images are augmented and encoded per batch instead. Pixel-level
models use the flattened pixels.
The encoder is any frozen module; its parameters and buffers key the cache, so this layer needs no model code.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Callable, Optional

import torch
from torch import nn
from tqdm.auto import tqdm

from birsweep.data.arrays import ArrayData, channel_normaliser
from birsweep.data.augment import crop_flip
from birsweep.io import atomic_write

log = logging.getLogger(__name__)


class Inputs:
    """Input vectors of the training and test sets, and (when kept) the raw training images they come from.

    ``encode(images)`` maps normalised images to input vectors: the frozen encoder, or a flatten for pixel models.
    """

    def __init__(
        self,
        train: torch.Tensor,
        test: torch.Tensor,
        n_pixels: int,
        encode: Callable[[torch.Tensor], torch.Tensor],
        normalise: Callable[[torch.Tensor], torch.Tensor],
        arrays: Optional[ArrayData] = None,
        images: Optional[torch.Tensor] = None,
        augment: bool = False,
    ):
        self.train, self.test, self.n_pixels = train, test, n_pixels
        self.encode, self.normalise = encode, normalise
        self.arrays, self.images, self.augment = arrays, images, augment

    @property
    def dim(self) -> int:
        return self.test.shape[1]

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


def _data_digest(arrays: ArrayData) -> str:
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


@torch.no_grad()
def _encode_all(
    encode, x: torch.Tensor, prepare, device: torch.device, desc: str, progress: bool, chunk: int = 1000
) -> torch.Tensor:
    out = []
    for s in tqdm(range(0, len(x), chunk), desc=desc, disable=not progress, leave=False):
        out.append(encode(prepare(x[s : s + chunk].to(device))))
    return torch.cat(out)


def _cached_features(
    arrays: ArrayData, encoder: nn.Module, normalize: bool, prepare, device, cache_dir: str, progress: bool
):
    key = hashlib.blake2b(
        f"{arrays.name}|{normalize}|{arrays.mean}|{arrays.std}|{_data_digest(arrays)}|{state_digest(encoder)}".encode(),
        digest_size=12,
    ).hexdigest()
    path = os.path.join(os.path.expanduser(cache_dir), "features", f"{arrays.name}-{key}.pt")
    if os.path.isfile(path):
        cached = torch.load(path, map_location=device, weights_only=True)
        return cached["train"], cached["test"]
    train = _encode_all(encoder, arrays.train_x, prepare, device, "encode train", progress)
    test = _encode_all(encoder, arrays.test_x, prepare, device, "encode test", progress)
    atomic_write(path, lambda tmp: torch.save({"train": train.cpu(), "test": test.cpu()}, tmp))
    log.info("cached %s features at %s", arrays.name, path)
    return train, test


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
    (needed by ``data.augment`` and by terms that make image views, such as the contrastive variant)."""
    n_pixels = int(torch.tensor(arrays.shape).prod())
    if encoder is None:
        normalise = lambda x: x  # noqa: E731  pixel models see unit pixels (BCE), never standardised ones
        encode = lambda x: x.reshape(len(x), -1)  # noqa: E731
        train = encode(arrays.to_unit(arrays.train_x)).to(device)
        test = encode(arrays.to_unit(arrays.test_x)).to(device)
    else:
        normalise = _normaliser(arrays, normalize, device)
        encode = encoder
        train, test = _cached_features(
            arrays, encoder, normalize, lambda x: normalise(arrays.to_unit(x)), device, cache_dir, progress
        )
    images = arrays.train_x.to(device) if (keep_images or augment) else None
    return Inputs(train, test, n_pixels, encode, normalise, arrays, images, augment)
