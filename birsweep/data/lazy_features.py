"""Encoder features made on first need, task by task, so training starts after one task's images are encoded.

A run on Split CIFAR-100 needs the features of task 1's 5,000 training and 1,000 test images before its first
step, not all 60,000: encoding everything first made the first iteration wait for the whole dataset (over a minute
on two CPU cores). :class:`EncodedSet` holds one image set's feature matrix; :meth:`EncodedSet.ensure` encodes the
rows a task needs that are not there yet. Once every row is there the features are written to the cache, which
later runs load whole. Each image is encoded on its own in a fixed chunk size, so its features are the same bits
whichever task (or cache) they come from (tests/test_lazy_features.py checks this).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from tqdm.auto import tqdm

CHUNK = 1000  # images per encoder call: as the whole-dataset pass always did


class EncodedSet:
    """The features of ``images`` (``N x C x H x W``), rows filled in by :meth:`ensure`, or all given at once."""

    def __init__(
        self,
        images: torch.Tensor,
        encode: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        name: str,
        progress: bool = False,
        features: Optional[torch.Tensor] = None,
    ):
        self.images, self.encode, self.device, self.name, self.progress = images, encode, device, name, progress
        self.features = features  # N x D on the device once the first rows are encoded (or loaded)
        self.done = torch.full((len(images),), features is not None, dtype=torch.bool)  # rows there, on the host

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    @torch.no_grad()
    def ensure(self, idx: torch.Tensor) -> int:
        """Encode the rows of ``idx`` that are missing; returns how many were encoded. Host-side bookkeeping only:
        called once per task, never in the step."""
        idx = idx.detach().cpu()
        todo = idx[~self.done[idx]].unique()  # sorted, so the chunks do not depend on the order asked in
        if len(todo) == 0:
            return 0
        chunks = range(0, len(todo), CHUNK)
        for s in tqdm(chunks, desc=f"encode {self.name}", disable=not self.progress, leave=False):
            rows = todo[s : s + CHUNK]
            out = self.encode(self.images[rows].to(self.device))
            if self.features is None:
                self.features = torch.zeros(len(self.images), out.shape[1], dtype=out.dtype, device=self.device)
            self.features[rows.to(self.device)] = out
        self.done[todo] = True
        return len(todo)

    def ensure_all(self) -> int:
        return self.ensure(torch.arange(len(self.images)))
