"""Which runs train at the image level, and their pieces (docs/method.md, Image-level models).

On a conv model the loop normally reads the frozen encoder's cached features. Two settings give it images instead,
as upstream's comparison does: ``method.train_conv`` (the classifier methods hold the pre-trained conv layers and
train them; GR's generator has its own and a transposed-conv decoder) and ``method.internal=false`` (BI-R without
internal replay: conv layers in front, a transposed-conv decoder behind, images replayed). The conv layers of a
BI-R network without internal replay stay frozen, as in BI-R's "no internal replay" ablation, unless
``method.train_conv`` says otherwise, as in upstream's s-GR family.
"""

from __future__ import annotations

import copy
from typing import Dict, Optional

import torch
from omegaconf import DictConfig
from torch import nn

from birsweep.data.arrays import ArrayData
from birsweep.data.images import ImageInputs
from birsweep.methods.method_registry import method_of
from birsweep.models.deconv import DeconvDecoder
from birsweep.models.encoder import ConvEncoder


def uses_images(cfg: DictConfig) -> bool:
    """Does this run's model take images (and hold conv layers itself)? Pixel models never do: they read pixels."""
    if cfg.model.encoder.type != "conv":
        return False
    return method_of(cfg).uses_images(cfg)  # the method says (a plain classifier: method.train_conv)


def trainable_copy(encoder: ConvEncoder) -> ConvEncoder:
    """The pre-trained conv layers as a model's own trainable part (the frozen original stays as it is)."""
    conv = copy.deepcopy(encoder)
    for p in conv.parameters():
        p.requires_grad_(True)
    return conv.train()


def own_conv(cfg: DictConfig, encoder: ConvEncoder) -> ConvEncoder:
    """A model's conv layers: a trainable copy under ``method.train_conv`` (upstream's ``freeze_convE=False``), else
    the frozen encoder itself (upstream's ``freeze_convE=True``)."""
    return trainable_copy(encoder) if cfg.method.train_conv else encoder


@torch.no_grad()
def conv_dim(encoder: ConvEncoder, shape: tuple[int, ...], device: torch.device) -> int:
    """The conv layers' output width for images of ``shape``, from one blank image in evaluation mode (batch-norm
    statistics untouched)."""
    was_training = encoder.training
    encoder.eval()
    dim = int(encoder(torch.zeros(1, *shape, device=device)).shape[1])
    encoder.train(was_training)
    return dim


def image_inputs(cfg: DictConfig, arrays: ArrayData, encoder: ConvEncoder, device: torch.device) -> ImageInputs:
    return ImageInputs(arrays, cfg.data.normalize, cfg.data.augment, conv_dim(encoder, arrays.shape, device), device)


def deconv_decoder(cfg: DictConfig, arrays: ArrayData) -> DeconvDecoder:
    """The mirror of ``model.encoder``; its last layer is linear for standardised images, a sigmoid otherwise (as
    upstream's ``network_output``)."""
    sigmoid = not (cfg.data.normalize and arrays.mean is not None)
    return DeconvDecoder(arrays.shape, cfg.model.encoder.depth, cfg.model.encoder.channels, sigmoid=sigmoid)


def image_parts(cfg: DictConfig, arrays: ArrayData, encoder: Optional[ConvEncoder]) -> Dict[str, nn.Module]:
    """A network's image parts when the run trains on images: its conv layers (:func:`own_conv`) in front, the
    transposed-conv decoder behind; none else (the network reads features or pixels)."""
    if encoder is None or not uses_images(cfg):
        return {}
    return {"conv": own_conv(cfg, encoder), "deconv": deconv_decoder(cfg, arrays)}
