"""The train layer's builders handed to a registered method (``birsweep.methods.method_api.Toolkit``;
docs/method.md, Adding a method): Adam, the image-level parts, the plain classifier's step, the BI-R network with its
step and terms, and BI-R's separate generator. The methods compose them; they never import this layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from omegaconf import DictConfig
from torch import nn

from birsweep.data.arrays import ArrayData
from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs
from birsweep.methods.bir_ablation import BIRGeneratorTrainer
from birsweep.methods.ewc import OfflineEWC
from birsweep.methods.gr import GeneratorTrainer
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.terms import LossTerm
from birsweep.models.bir import BIRNet
from birsweep.models.classifier import Classifier
from birsweep.models.encoder import ConvEncoder
from birsweep.train.build.bir_net import build_bir_method
from birsweep.train.build.image_level import image_parts, own_conv
from birsweep.train.build.separate_generator import build_bir_generator
from birsweep.train.step.classifier import ClassifierStep
from birsweep.train.step.eager import TrainStep


@dataclass
class RunToolkit:
    cfg: DictConfig
    inputs: Union[Inputs, ImageInputs]
    arrays: ArrayData
    encoder: Optional[ConvEncoder]
    train_idx: List[torch.Tensor]
    device: torch.device

    def adam(self, params: Any) -> torch.optim.Optimizer:
        cfg = self.cfg
        return torch.optim.Adam(params, lr=cfg.trainer.lr, betas=tuple(cfg.trainer.betas), eps=1e-8, fused=True)

    def _image_encoder(self) -> Optional[ConvEncoder]:
        return self.encoder if isinstance(self.inputs, ImageInputs) else None

    def own_conv(self) -> Optional[ConvEncoder]:
        conv = self._image_encoder()
        return None if conv is None else own_conv(self.cfg, conv)

    def image_parts(self) -> Dict[str, nn.Module]:
        if not isinstance(self.inputs, ImageInputs):
            return {}
        return image_parts(self.cfg, self.inputs.arrays, self._image_encoder())

    def classifier_step(
        self,
        model: Classifier,
        optimizer: torch.optim.Optimizer,
        si: SynapticIntelligence,
        ewc: Optional[OfflineEWC],
        generator: Optional[Union[GeneratorTrainer, BIRGeneratorTrainer]],
    ) -> ClassifierStep:
        targets, temp = self.cfg.method.targets, self.cfg.model.distill_temp
        return ClassifierStep(model, optimizer, si, ewc, targets, temp, generator)

    def bir_network(self) -> Tuple[BIRNet, torch.optim.Optimizer, SynapticIntelligence, TrainStep, List[LossTerm]]:
        return build_bir_method(self.cfg, self.inputs, self.arrays, self.encoder, self.device)

    def bir_generator(self, parts: Dict[str, nn.Module]) -> BIRGeneratorTrainer:
        n_classes = self.arrays.n_classes
        return build_bir_generator(self.cfg, self.inputs, n_classes, self.device, self.adam, parts)
