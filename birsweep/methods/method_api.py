"""What a registered continual-learning method gives the run loop (docs/method.md, Adding a method), and what the
run loop gives it to build with.

A method overrides only the callbacks it needs (``MethodHooks``: where replay comes from, which training samples a
task draws from, what happens when a task ends, its checkpoint state, its generator). It builds its model, optimiser,
SI and step from a ``Toolkit``: the train layer's builders (the steps, the BI-R network, image parts), handed down so
that the methods never import the train layer (imports point down, docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple, Union

import torch
from omegaconf import DictConfig
from torch import nn

from birsweep.methods.terms import LossTerm

if TYPE_CHECKING:
    from birsweep.data.arrays import ArrayData
    from birsweep.data.features import Inputs
    from birsweep.data.images import ImageInputs
    from birsweep.methods.bir_ablation import BIRGeneratorTrainer
    from birsweep.methods.ewc import OfflineEWC
    from birsweep.methods.gr import GeneratorTrainer
    from birsweep.methods.si import SynapticIntelligence
    from birsweep.models.bir import BIRNet
    from birsweep.models.classifier import Classifier
    from birsweep.models.encoder import ConvEncoder

Step = Callable[..., Dict[str, torch.Tensor]]  # one optimiser step: (x, y, task, n_active, replay, idx) -> logs


class MethodHooks:
    """The callbacks of the run loop; the defaults are fine-tuning's (no replay, the current task's samples)."""

    def replay(self, task: int, previous: Any, n_old: int, batch_size: int) -> Any:
        """The replay source of task ``task`` (0-based), or None; ``previous``: the model after the last task."""
        return None

    def train_indices(self, task: int, train_idx: List[torch.Tensor]) -> torch.Tensor:
        """The training samples task ``task`` (0-based) draws its batches from."""
        return train_idx[task]

    def end_task(self, task: int, n_active: int) -> None:
        """After task ``task`` (0-based) is trained and evaluated, before the checkpoint."""

    def state_dict(self) -> Dict[str, Any]:
        """The method's own state in a checkpoint (the model, optimiser and SI are saved by the run)."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        pass

    def generator(self, model: nn.Module) -> Optional[nn.Module]:
        """The generator the generator evaluation scores (a ``BIRNet`` or a ``VAEGenerator``), or None."""
        return None


@dataclass
class Built:
    """What a method's builder returns: the run's model, optimiser, SI, step, the variants' terms and the hooks."""

    model: Union[BIRNet, Classifier]
    optimizer: torch.optim.Optimizer
    si: SynapticIntelligence
    step: Step
    hooks: MethodHooks
    terms: List[LossTerm] = field(default_factory=list)


class Toolkit(Protocol):
    """The run's data and the train layer's builders, as a method's builder may use them."""

    cfg: DictConfig
    inputs: Union[Inputs, ImageInputs]
    arrays: ArrayData
    encoder: Optional[ConvEncoder]  # the frozen pre-trained conv layers (None on pixel models)
    train_idx: List[torch.Tensor]
    device: torch.device

    def adam(self, params: Any) -> torch.optim.Optimizer:
        """The run's Adam (trainer.lr, trainer.betas), fused."""
        ...

    def own_conv(self) -> Optional[ConvEncoder]:
        """A plain classifier's conv layers on image inputs (a trainable copy under method.train_conv), else None."""
        ...

    def image_parts(self) -> Dict[str, nn.Module]:
        """A generator's parts on image inputs (conv layers, transposed-conv decoder), else {}."""
        ...

    def classifier_step(
        self,
        model: Classifier,
        optimizer: torch.optim.Optimizer,
        si: SynapticIntelligence,
        ewc: Optional[OfflineEWC],
        generator: Optional[Union[GeneratorTrainer, BIRGeneratorTrainer]],
    ) -> Step:
        """The plain classifier's step (method.targets, model.distill_temp)."""
        ...

    def bir_network(self) -> Tuple[BIRNet, torch.optim.Optimizer, SynapticIntelligence, Step, List[LossTerm]]:
        """The BI-R network with its variants' terms, optimiser, SI and step."""
        ...

    def bir_generator(self, parts: Dict[str, nn.Module]) -> BIRGeneratorTrainer:
        """BI-R's separate generator (method.feedback=false) with its own Adam."""
        ...


@dataclass
class NoKeys:
    """The config of a method that reads no ``method`` keys of its own."""
