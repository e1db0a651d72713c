"""The separate generator of BI-R without replay through feedback (``method.feedback=false``; docs/method.md,
Ablations): a BI-R network without classifier, with the run's conditional prior, gates and dg_prop, beside the
plain classifier (upstream ``define_autoencoder(generator=True)``: ``classifier=False``, the main model's sizes)."""

from __future__ import annotations

from typing import Any, Callable

import torch
from omegaconf import DictConfig

from birsweep.data.features import Inputs
from birsweep.methods.bir_ablation import BIRGeneratorTrainer
from birsweep.train.bir_method import build_bir_net


def build_bir_generator(
    cfg: DictConfig,
    inputs: Inputs,
    n_classes: int,
    device: torch.device,
    make_optimizer: Callable[[Any], torch.optim.Optimizer],
) -> BIRGeneratorTrainer:
    m, meth = cfg.model, cfg.method
    gen = build_bir_net(cfg, inputs.dim, n_classes, device, classifier=False)
    optimizer = make_optimizer(gen.parameters())
    return BIRGeneratorTrainer(gen, optimizer, inputs.n_pixels, float(m.distill_temp), meth.targets == "hard")
