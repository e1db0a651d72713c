"""Where IS, FID and precision-recall are computed: the frozen pre-trained encoder's features, which the evaluation
classifier reads (docs/method.md, Generator evaluation). Hidden replay generates such features itself; image-level
models generate images, which the same encoder maps there first, as upstream scores image generators with the
classifier's conv layers in front of its fc layers. Both kinds of run of one encoder share one classifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol

import torch
from torch import nn

from birsweep.data.arrays import ArrayData
from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs

Map = Callable[[torch.Tensor], torch.Tensor]


class EncodedData(Protocol):
    """What the evaluation classifier needs of a run's data: the images (``arrays``), their normalisation before the
    frozen encoder (``normalise``), the encoder itself (``encode``, which keys the cache) and its output width.
    A hidden-feature run's :class:`Inputs` is one."""

    @property
    def arrays(self) -> Optional[ArrayData]: ...

    @property
    def normalise(self) -> Map: ...

    @property
    def encode(self) -> Map: ...

    @property
    def dim(self) -> int: ...


@dataclass(frozen=True)
class EncoderData:
    """The :class:`EncodedData` of an image-level run: its images and the frozen encoder its model started from."""

    arrays: Optional[ArrayData]
    normalise: Map
    encode: Map
    dim: int


@dataclass(frozen=True)
class FeatureSpace:
    """The classifier's data, and the map from the model's inputs (generated or real test samples) to features."""

    data: EncodedData
    embed: Map


def hidden_space(inputs: Inputs) -> FeatureSpace:
    """Hidden replay: the model's inputs are the encoder's features already."""
    return FeatureSpace(inputs, lambda h: h)


def image_space(inputs: ImageInputs, encoder: nn.Module) -> FeatureSpace:
    """Image-level models: their inputs (real or generated) are normalised images, the encoder's own input."""
    if encoder.training:
        raise ValueError("the features of generated images need the frozen (evaluation-mode) encoder")
    return FeatureSpace(EncoderData(inputs.arrays, inputs.normalise, encoder, inputs.dim), encoder)
