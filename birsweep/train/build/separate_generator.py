"""The separate generator of BI-R without replay through feedback (``method.feedback=false``; docs/method.md,
Ablations): a BI-R network without classifier, with the run's conditional prior, gates and dg_prop, beside the
plain classifier (upstream ``define_autoencoder(generator=True)``: ``classifier=False``, the main model's sizes). On
images (``method.internal=false`` on a conv model: upstream's s-GR family) it holds conv layers of its own and the
transposed-conv decoder."""

from __future__ import annotations

from typing import Any, Callable, Dict, Union

import torch
from omegaconf import DictConfig
from torch import nn

from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs
from birsweep.methods.bir_ablation import BIRGeneratorTrainer
from birsweep.train.build.bir_net import build_bir_net


def build_bir_generator(
    cfg: DictConfig,
    inputs: Union[Inputs, ImageInputs],
    n_classes: int,
    device: torch.device,
    make_optimizer: Callable[[Any], torch.optim.Optimizer],
    image_parts: Dict[str, nn.Module],
) -> BIRGeneratorTrainer:
    m, meth = cfg.model, cfg.method
    gen = build_bir_net(cfg, inputs.dim, n_classes, device, classifier=False, **image_parts)
    optimizer = make_optimizer([p for p in gen.parameters() if p.requires_grad])  # frozen conv layers: not its own
    return BIRGeneratorTrainer(gen, optimizer, inputs.n_pixels, float(m.distill_temp), meth.targets == "hard")
