"""The in-memory form every data source returns: whole splits as tensors, never per-sample objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import torch


@dataclass
class ArrayData:
    """Train and test splits of one dataset.

    ``*_x`` are ``N x C x H x W`` tensors, either ``uint8`` with values in ``[0, max_value]`` or float in
    ``[0, 1]``; ``*_y`` are ``int64`` original class ids in ``[0, n_classes)``.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int
    max_value: float = 255.0
    mean: Optional[Tuple[float, ...]] = None  # per-channel normalisation statistics, if the source has them
    std: Optional[Tuple[float, ...]] = None

    @property
    def shape(self) -> Tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Images as float in [0, 1]."""
        return x.float() / self.max_value if x.dtype == torch.uint8 else x.float()


def channel_normaliser(
    mean: Sequence[float], std: Sequence[float], device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Unit images ``N x C x H x W`` -> per-channel standardised ones, ``(x - mean) / std``."""
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    return lambda x: (x - m) / s
