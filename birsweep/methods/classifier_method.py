"""The plain classifier that fine-tuning, SI, EWC, LwF, joint training and GR train (docs/method.md, Methods), and
BI-R without feedback beside its separate generator: the set-up they share, and the hooks of a method with a
separate generator. The methods compose these (``*_method.py``)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

from torch import nn

from birsweep.methods.bir_ablation import BIRGeneratorTrainer
from birsweep.methods.ewc import OfflineEWC
from birsweep.methods.gr import GeneratorTrainer
from birsweep.methods.method_api import Built, MethodHooks, Toolkit
from birsweep.methods.replay import frozen_copy
from birsweep.methods.si import SynapticIntelligence
from birsweep.models.classifier import Classifier

Trainer = Union[GeneratorTrainer, BIRGeneratorTrainer]
# a method's separate generator, built from the image parts of the run (``{}`` on features or pixels)
GeneratorFactory = Callable[[Toolkit, Dict[str, nn.Module]], Trainer]


class ClassifierParts:
    """The classifier, its optimiser, SI and (``ewc_lambda > 0``) offline EWC, plus an optional separate
    generator; ``built(hooks)`` adds the step. Built in this order so the random draws match across methods."""

    def __init__(self, tk: Toolkit, ewc_lambda: float = 0.0, make_generator: Optional[GeneratorFactory] = None):
        m = tk.cfg.model
        self.model = Classifier(
            tk.inputs.dim, tk.arrays.n_classes, m.fc_layers, m.fc_units, m.h_dim, conv=tk.own_conv()
        )
        self.model.to(tk.device)
        self.optimizer = tk.adam([p for p in self.model.parameters() if p.requires_grad])
        self.si = SynapticIntelligence(self.model.si_parameters(), m.si_c, m.si_epsilon)
        self.ewc: Optional[OfflineEWC] = None
        if ewc_lambda > 0:
            trainable = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
            self.ewc = OfflineEWC(trainable, ewc_lambda)
        # a generator on images (conv models, image-level runs) has conv layers of its own and decodes through
        # transposed convs (upstream's generators with hidden=False)
        parts = tk.image_parts()
        self.generator = None if make_generator is None else make_generator(tk, parts)
        self.step = tk.classifier_step(self.model, self.optimizer, self.si, self.ewc, self.generator)

    def built(self, hooks: MethodHooks) -> Built:
        return Built(self.model, self.optimizer, self.si, self.step, hooks)


class GeneratorHooks(MethodHooks):
    """Replay from a frozen copy of a separate generator, labelled by the previous classifier (GR, BI-R without
    feedback); the generator and its optimiser are part of the checkpoint."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.previous_generator: Any = None  # a frozen copy of the generator after the previous task

    def replay(self, task: int, previous: Any, n_old: int, batch_size: int) -> Any:
        if task == 0:
            return None
        if previous is None:
            raise RuntimeError(f"task {task + 1}: no copy of the model after the previous task to label replay")
        if self.previous_generator is None:
            raise RuntimeError(f"task {task + 1}: no copy of the generator after the previous task")
        return self.trainer.replay_source(self.previous_generator, previous, n_old, batch_size)

    def end_task(self, task: int, n_active: int) -> None:
        self.previous_generator = frozen_copy(self.trainer.generator)

    def state_dict(self) -> Dict[str, Any]:
        return {
            "generator": self.trainer.generator.state_dict(),
            "generator_optimizer": self.trainer.optimizer.state_dict(),
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.trainer.generator.load_state_dict(state["generator"])
        self.trainer.optimizer.load_state_dict(state["generator_optimizer"])
        self.previous_generator = frozen_copy(self.trainer.generator)

    def generator(self, model: nn.Module) -> Optional[nn.Module]:
        return self.trainer.generator


def replay_from(task: int, previous: Any) -> Any:
    """The previous model for replay labelled by it, from the second task on (None in the first)."""
    if task == 0:
        return None
    if previous is None:
        raise RuntimeError(f"task {task + 1}: no copy of the model after the previous task to label replay")
    return previous
