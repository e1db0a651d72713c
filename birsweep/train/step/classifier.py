"""One optimiser step of the methods that train a plain classifier (docs/method.md, Methods): fine-tuning, joint,
SI, EWC, LwF, GR, and the classifier of BI-R without feedback (its generator trains in ``generator``). BI-R's step
is ``birsweep.train.step.eager``; this one mirrors upstream's ``Classifier.train_a_batch``: cross-entropy on the current
batch over the active classes, from task 2 the replayed batch's loss (soft targets: distillation; hard targets:
cross-entropy against the previous model's argmax) weighted ``1 - 1/t`` against ``1/t``, plus the regularisers
(EWC through autograd, SI's gradient added directly as in the BI-R step)."""

from __future__ import annotations

from typing import Dict, Optional, Protocol, Tuple, Union

import torch
from torch.nn import functional as F

from birsweep.methods.bir_ablation import BIRGeneratorTrainer
from birsweep.methods.bir_losses import mix
from birsweep.methods.ewc import OfflineEWC
from birsweep.methods.gr import GeneratorTrainer, hard_target_loss
from birsweep.methods.lwf import CurrentInputReplay, lwf_loss
from birsweep.methods.si import SynapticIntelligence
from birsweep.models.classifier import Classifier


class ReplaySource(Protocol):
    def sample(self, current: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Replayed inputs and the previous model's logits on the old classes."""
        ...


class ClassifierStep:
    def __init__(
        self,
        model: Classifier,
        optimizer: torch.optim.Optimizer,
        si: SynapticIntelligence,
        ewc: Optional[OfflineEWC],
        targets: str,
        distill_temp: float,
        generator: Optional[Union[GeneratorTrainer, BIRGeneratorTrainer]] = None,
    ):
        self.model, self.optimizer, self.si, self.ewc = model, optimizer, si, ewc
        self.soft, self.temp, self.generator = targets == "soft", distill_temp, generator

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: int,
        n_active: int,
        replay: Optional[ReplaySource],
        idx: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        """Train on one batch of task ``task`` (1-based); returns detached loss values as device tensors."""
        model = self.model
        model.train()
        x_r = scores = None
        current_replay = isinstance(replay, CurrentInputReplay)
        if replay is not None:
            x_r, scores = replay.sample(x)
        separate = x_r is not None and model.separate_passes  # trained conv layers: batch-norm, one pass each
        if separate:
            logits = torch.cat([model(x), model(x_r)])[:, :n_active]
        else:  # one pass: no batch-norm or dropout, so exact
            logits = model(x if x_r is None or current_replay else torch.cat([x, x_r]))[:, :n_active]
        B = len(x)
        logs: Dict[str, torch.Tensor] = {"pred": F.cross_entropy(logits[:B], y)}
        total = logs["pred"]
        if x_r is not None and scores is not None:
            rep = logits[: len(x_r)] if current_replay and not separate else logits[B:]
            if self.soft:
                logs["distil_r"] = loss_rep = lwf_loss(rep, scores, self.temp)
            else:
                logs["pred_r"] = loss_rep = hard_target_loss(rep, scores)
            total = mix(total, loss_rep, task)
        logs["loss"] = total.detach()
        if self.ewc is not None and self.ewc.active:
            penalty = self.ewc.lamda * self.ewc.penalty()
            logs["ewc_penalty"] = penalty.detach()
            total = total + penalty
        self.optimizer.zero_grad(set_to_none=False)
        total.backward()
        self.si.add_penalty_grad()
        self.optimizer.step()
        self.si.after_step()
        if self.generator is not None:
            replayed = x_r is not None and not current_replay
            logs.update(self.generator(x, y, x_r if replayed else None, scores if replayed else None, task, n_active))
        return {k: v.detach() for k, v in logs.items()}
