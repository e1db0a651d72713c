"""Augmented views of the current images for the contrastive term (docs/variants.md, contrastive: views).

Two recipes (``variant.contrastive.augment``):

- ``birsweep`` (default): horizontal flip, resized crop (scale 0.6-1, ratio 3/4-4/3, back to the full size),
  colour jitter (brightness/contrast/saturation 0.4, hue 0.1, p 0.8) and grayscale (p 0.2) for RGB images;
  flip, crop and brightness/contrast jitter for grey ones. kornia draws every parameter, in the order its
  ``AugmentationSequential`` draws them, and applies flip, jitter and grayscale; two of its ops were the cost on a
  CPU and are done here in batch with the same definitions (see :func:`resized_crop` and :func:`shift_hue`).
- ``fork``: the fork's ``DataAugmentation`` (jackmillichamp/brain-inspired-replay, train.py): flip p 0.5, channel
  shuffle p 0.75, a 24x24 random crop that kornia applies to the whole batch with p 0.5, grayscale p 0.25, on the
  normalised images rescaled per sample to [0, 1] and back. A cropped batch stays 24x24: the conv encoder's four
  stride-2 layers map 24x24 to the same 2x2 grid as 32x32, so its features keep their size.

Both run on the images' device and draw with that device's random generator.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Sequence, Union

import torch
from torch import nn

RECIPES = ("birsweep", "fork")
# kornia is imported where the views are built, not here: the schema imports this module (through the term's config)


def _on_device(module: nn.Module, device: torch.device) -> nn.Module:
    """Move kornia's augmentations to ``device`` and make them sample there (no host-side parameter draws)."""
    import kornia.augmentation as KA

    module.to(device)
    for aug in module.modules():
        if isinstance(aug, KA.AugmentationBase2D):
            aug.set_rng_device_and_dtype(device, torch.float32)
    return module


def _interpolation_matrix(lo: torch.Tensor, hi: torch.Tensor, n: int, size: int, dtype: torch.dtype) -> torch.Tensor:
    """B x n x size: row i holds the two bilinear weights of output pixel i of an axis cropped to [lo, hi]."""
    # as interpolate (align_corners): the position within the crop is (in - 1) / (out - 1) times the output index
    scale = (hi - lo).to(dtype) / max(n - 1, 1)  # B x 1
    pos = scale * torch.arange(n, device=lo.device, dtype=dtype)
    first = pos.floor()
    left = (lo + first.long()).minimum(hi)
    weight = (pos - first).clamp(0.0, 1.0)[..., None]
    right = (left + 1).minimum(hi)
    grid = torch.arange(size, device=lo.device)  # a comparison, not F.one_hot: its range check reads the host
    return (grid == left[..., None]).to(dtype) * (1 - weight) + (grid == right[..., None]).to(dtype) * weight


def resized_crop(images: torch.Tensor, boxes: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Crop each image to its box and resize it bilinearly (align_corners) to ``size``, for the whole batch.

    ``boxes`` are kornia's (B, 4, 2) integer corner points (x, y), clockwise from the top left. The same result as
    kornia's ``crop_by_indices`` (slice, then ``interpolate`` image by image) up to float rounding, as two batched
    matrix products with per-image interpolation matrices (two weights a row) instead of a loop over the images.
    """
    B, C, H, W = images.shape
    box = boxes.to(images.device).long()
    rows = _interpolation_matrix(box[:, 0, 1:2], box[:, 3, 1:2], size[0], H, images.dtype)  # B x h x H
    cols = _interpolation_matrix(box[:, 0, 0:1], box[:, 1, 0:1], size[1], W, images.dtype)  # B x w x W
    narrow = (images.reshape(B, C * H, W) @ cols.transpose(1, 2)).reshape(B, C, H, size[1])
    return rows.unsqueeze(1) @ narrow


def shift_hue(images: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of RGB images in [0, 1] by ``turns`` (B,) of a full turn, keeping HSV's value and saturation.

    kornia's ``adjust_hue`` (an RGB -> HSV -> RGB round trip) with fewer passes over the images: with
    max M, chroma C = M - min and the hue h in sextants, channel n in (5, 3, 1) is
    M - C * clamp(min(k, 4 - k), 0, 1), k = (n + h) mod 6 (the standard HSV -> RGB formula; kornia's saturation
    denominator's epsilon aside, V * S = C).
    """
    r, g, b = images.unbind(-3)
    top = images.amax(-3)
    chroma = top - images.amin(-3)
    safe = torch.where(chroma == 0, torch.ones_like(chroma), chroma)
    # the sextant of the first maximal channel, as kornia's rgb_to_hsv breaks ties
    h = torch.where((r >= g) & (r >= b), (g - b) / safe, torch.where(g >= b, (b - r) / safe + 2, (r - g) / safe + 4))
    h = torch.remainder(h + 6.0 * turns.to(images.dtype).view(-1, 1, 1), 6.0)
    n = torch.tensor([5.0, 3.0, 1.0], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    k = torch.remainder(n + h.unsqueeze(-3), 6.0)
    return top.unsqueeze(-3) - chroma.unsqueeze(-3) * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def _hue_radians(image: torch.Tensor, factor: Union[float, torch.Tensor]) -> torch.Tensor:
    """kornia's ``adjust_hue`` signature (the angle in radians) for :func:`shift_hue`."""
    return shift_hue(image, torch.as_tensor(factor, device=image.device) / (2 * math.pi))


class BirsweepViews(nn.Module):
    """The default recipe (module docstring), parameters drawn by kornia in its ``AugmentationSequential`` order."""

    def __init__(self, channels: int, size: Sequence[int], device: torch.device) -> None:
        import kornia.augmentation as KA

        super().__init__()
        self.size = (int(size[0]), int(size[1]))
        self.flip = KA.RandomHorizontalFlip()
        self.crop = KA.RandomResizedCrop(self.size, scale=(0.6, 1.0))
        rgb = channels == 3
        self.jitter = KA.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8) if rgb else KA.ColorJitter(0.4, 0.4, p=0.8)
        self.gray = KA.RandomGrayscale(p=0.2) if rgb else None
        # kornia's jitter keeps its steps as attributes: its hue step (the RGB -> HSV -> RGB round trip, most of
        # the augmentation's time on a CPU) becomes the equivalent shift_hue; the other steps stay kornia's
        self.jitter._hue_fn = _hue_radians
        _on_device(self, device)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        shape = images.shape
        augs = [a for a in (self.flip, self.crop, self.jitter, self.gray) if a is not None]
        params = [a.forward_parameters(shape) for a in augs]  # all draws first, as AugmentationSequential
        x = self.flip(images, params=params[0])
        crop = params[1]
        x = resized_crop(x, crop["src"], self.size)
        x = self.jitter(x, params=params[2])
        out: torch.Tensor = self.gray(x, params=params[3]) if self.gray is not None else x
        return out


class ForkViews(nn.Module):
    """The fork's recipe (module docstring), on normalised images."""

    def __init__(self, channels: int, device: torch.device) -> None:
        import kornia.augmentation as KA

        super().__init__()
        # nn.Sequential as the fork: each op draws its parameters when it runs
        ops: list[nn.Module] = [KA.RandomHorizontalFlip(p=0.5)]
        if channels == 3:  # a single channel has nothing to shuffle or to turn grey
            ops.append(KA.RandomChannelShuffle(p=0.75))
        ops.append(KA.RandomCrop((24, 24), p=0.5))  # kornia: p per batch, the whole batch cropped or not
        if channels == 3:
            ops.append(KA.RandomGrayscale(p=0.25))
        self.ops = nn.Sequential(*ops)
        _on_device(self, device)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        low = images.amin(dim=(1, 2, 3), keepdim=True)
        span = images.amax(dim=(1, 2, 3), keepdim=True) - low
        span = span.clamp(min=1e-12)  # a constant image (the fork would divide by zero)
        out: torch.Tensor = self.ops((images - low) / span)
        return out * span + low


def make_views(
    recipe: str, channels: int, size: Sequence[int], device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The views of ``recipe`` as a function: unit images -> normalised views (``birsweep`` augments unit
    images, ``fork`` normalised ones, as each was written); the caller normalises first for ``fork``."""
    if recipe == "birsweep":
        return BirsweepViews(channels, size, device)
    if recipe == "fork":
        return ForkViews(channels, device)
    raise ValueError(f"unknown contrastive augmentation recipe {recipe!r}: use one of {', '.join(RECIPES)}")


VIEWS_ON_NORMALISED: Dict[str, bool] = {"birsweep": False, "fork": True}


def kornia_views(channels: int, size: Sequence[int], device: torch.device) -> nn.Module:
    """The default recipe as one kornia ``AugmentationSequential``: the reference :class:`BirsweepViews` matches
    (tests) and the benchmark's side-by-side baseline (benchmarks/contrastive_speed.py)."""
    import kornia.augmentation as KA

    rgb = channels == 3
    colour = (
        [KA.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8), KA.RandomGrayscale(p=0.2)]
        if rgb
        else [KA.ColorJitter(0.4, 0.4, p=0.8)]
    )
    crop = KA.RandomResizedCrop((int(size[0]), int(size[1])), scale=(0.6, 1.0))
    return _on_device(KA.AugmentationSequential(KA.RandomHorizontalFlip(), crop, *colour), device)
