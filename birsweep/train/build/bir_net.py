"""The BI-R network's side of a run (docs/method.md, Network): the network with its ablation switches and image
parts, the variants' loss terms, fused Adam over both, SI and the step; handed to the BI-R method
(birsweep/methods/bir_method.py) through the run's toolkit (birsweep/train/build/toolkit.py)."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import torch
from omegaconf import DictConfig

from birsweep.data.arrays import ArrayData
from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.terms import LossTerm
from birsweep.methods.variants import build_terms
from birsweep.models.bir import BIRNet
from birsweep.models.encoder import ConvEncoder
from birsweep.train.build.image_level import image_parts
from birsweep.train.step.eager import TrainStep


def build_bir_net(cfg: DictConfig, in_dim: int, n_classes: int, device: torch.device, **parts: Any) -> BIRNet:
    """The BI-R network of ``cfg.model`` with the ablation switches of ``cfg.method``; ``parts``: the separate
    generator's ``classifier=False``, the image parts of ``method.internal=false``."""
    m = cfg.model
    return BIRNet(
        in_dim,
        n_classes,
        m.fc_layers,
        m.fc_units,
        m.h_dim,
        m.z_dim,
        m.dg_prop,
        bce=(m.recon == "bce"),
        gate_seed=int(cfg.seed),
        gates=bool(cfg.method.gates),
        conditional=bool(cfg.method.conditional),
        **parts,
    ).to(device)


def build_bir_method(
    cfg: DictConfig,
    inputs: Union[Inputs, ImageInputs],
    arrays: ArrayData,
    encoder: Optional[ConvEncoder],
    device: torch.device,
) -> Tuple[BIRNet, torch.optim.Optimizer, SynapticIntelligence, TrainStep, List[LossTerm]]:
    m = cfg.model
    parts = image_parts(cfg, arrays, encoder)  # method.internal=false: images in and out
    model = build_bir_net(cfg, inputs.dim, arrays.n_classes, device, **parts)
    # variants act on internal replay (config_check refuses them with method.internal=false)
    terms = build_terms(cfg.variant, model, inputs) if isinstance(inputs, Inputs) else []
    groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    for term in terms:
        groups += getattr(term, "param_groups", lambda: [])()
    optimizer = torch.optim.Adam(
        groups, lr=cfg.trainer.lr, betas=tuple(cfg.trainer.betas), eps=1e-8, fused=True
    )  # fused Adam: same update, far fewer kernels
    si = SynapticIntelligence(model.si_parameters(), m.si_c, m.si_epsilon)
    step = TrainStep(
        model,
        optimizer,
        si,
        inputs.n_pixels,
        m.distill_temp,
        terms,
        cfg.trainer.precision,
        cfg.trainer.compile,
        hard_targets=cfg.method.targets == "hard",
        seed=cfg.seed,
    )
    return model, optimizer, si, step, terms
