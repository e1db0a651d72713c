"""What a run trains on (docs/method.md, Network): the pre-trained conv encoder of conv models, and the inputs it
gives: cached features for BI-R, images for the models that hold conv layers themselves (Image-level models)."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from omegaconf import DictConfig

from birsweep.data.arrays import ArrayData
from birsweep.data.features import Inputs, build_inputs
from birsweep.data.images import ImageInputs
from birsweep.models.encoder import ConvEncoder, build_encoder
from birsweep.train.build.image_level import image_inputs, uses_images
from birsweep.train.pretrain import encoder_weights


def run_inputs(
    cfg: DictConfig, arrays: ArrayData, device: torch.device
) -> Tuple[Union[Inputs, ImageInputs], Optional[ConvEncoder]]:
    encoder = None
    if cfg.model.encoder.type == "conv":
        weights = encoder_weights(
            cfg.model.encoder, cfg.paths.cache_dir, cfg.data.root, cfg.data.download, device, cfg.trainer.progress
        )
        encoder = build_encoder(cfg.model.encoder, weights, device, in_channels=arrays.shape[0])
    if encoder is not None and uses_images(cfg):  # the model holds conv layers (docs/method.md, Image-level)
        return image_inputs(cfg, arrays, encoder, device), encoder
    contrast = cfg.variant.contrastive
    inputs = build_inputs(
        arrays,
        encoder,
        cfg.data.normalize,
        cfg.data.augment,
        device,
        cfg.paths.cache_dir,
        keep_images=contrast.enabled and contrast.include_current,
        progress=cfg.trainer.progress,
    )
    return inputs, encoder
