"""One optimiser step of BI-R + SI (docs/method.md, Total loss), with the variant's extra loss terms composed in.

Current and replayed samples go through the network in one fused pass (the fc layers have no batch-norm or
dropout, so this is exact); the losses are computed per slice. Nothing here reads a value back to the host.
``compile`` picks eager (``off``), a compiled forward pass (``forward``) or the whole step as one compiled graph
(``step``: birsweep/train/whole_step.py).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from torch.nn import functional as F

from birsweep.device import warn_slow_bf16
from birsweep.methods import bir_ablation as A
from birsweep.methods import bir_losses as L
from birsweep.methods.replay import GenerativeReplay
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.term_noise import noise_for
from birsweep.methods.terms import LossTerm, ReplayBatch
from birsweep.models.bir import BIRNet, Forward, cat_forward
from birsweep.train.whole_step import WholeStep, compile_mode, whole_step_for


def slice_forward(out: Forward, sl: slice) -> Forward:
    # field by field, not through dataclasses.fields: torch.compile traces this without a graph break
    return Forward(
        out.hE[sl].float(),
        out.mu[sl].float(),
        out.logvar[sl].float(),
        out.z[sl].float(),
        out.recon[sl].float(),
        out.logits[sl].float(),
    )


class TrainStep:
    def __init__(
        self,
        model: BIRNet,
        optimizer: torch.optim.Optimizer,
        si: SynapticIntelligence,
        n_pixels: int,
        distill_temp: float,
        terms: Optional[List[LossTerm]] = None,
        precision: str = "32",
        compile_forward: Union[bool, str] = False,  # trainer.compile: off | forward | step (true = forward)
        hard_targets: bool = False,  # method.targets=hard: replay labelled by the previous model's argmax
        seed: int = 0,  # the run seed: seeds the terms' own generator (birsweep/methods/term_noise.py)
    ):
        self.model, self.optimizer, self.si = model, optimizer, si
        self.n_pixels, self.temp = n_pixels, distill_temp
        self.terms = list(terms or [])
        self.hard = hard_targets
        self.noise = noise_for(self.terms, seed, next(model.parameters()).device)
        self.bf16 = precision == "bf16"
        warn_slow_bf16(precision, next(model.parameters()).device.type)
        self.forward: Callable[[torch.Tensor, torch.Tensor], Forward] = model  # the model, or its compiled form
        self.compile = compile_mode(compile_forward)
        if self.compile == "forward":
            self.forward = torch.compile(model)
        self.whole: Optional[WholeStep] = whole_step_for(self) if self.compile == "step" else None

    def _autocast(self, device: torch.device):
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: int,
        n_active: int,
        replay: Optional[GenerativeReplay],
        idx: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        """Train on one batch of task ``task`` (1-based); returns detached loss values as device tensors."""
        keys = self.term_keys(replay)  # before the step, outside any compiled graph
        if self.whole is not None:
            return self.whole(x, y, task, n_active, replay, idx, keys)
        self.model.train()
        total, logs = self.losses(x, y, task, n_active, replay, idx, keys)
        self.optimizer.zero_grad(set_to_none=False)
        total.backward()
        self.si.add_penalty_grad()
        self.optimizer.step()
        self.si.after_step()
        return {k: v.detach() for k, v in logs.items()}

    def term_keys(self, replay: Optional[GenerativeReplay]) -> Optional[torch.Tensor]:
        """The step's draw from the terms' own generator (one key per replayed sample), or None."""
        return None if self.noise is None or replay is None else self.noise.keys(replay.batch_size)

    def losses(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: int,
        n_active: int,
        replay: Optional[GenerativeReplay],
        idx: Optional[torch.Tensor],
        keys: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The total loss of one batch (replay drawn here) and the logged values; no gradient is taken yet.
        ``keys``: the terms' random keys of this step (:meth:`term_keys`; drawn here when not given)."""
        if keys is None:
            keys = self.term_keys(replay)
        model, C = self.model, self.model.n_classes
        gate = F.one_hot(y, C).to(x.dtype)
        inputs = x
        if replay is not None:
            x_r, scores = replay.sample()
            pi = A.replay_weights(scores, self.temp, n_active, self.hard)
            gate = torch.cat([gate, F.pad(pi, (0, C - n_active))])  # soft (or hard) gate for replay, as upstream
            inputs = torch.cat([x, x_r])
        B = x.shape[0]
        with self._autocast(x.device):
            if replay is not None and model.separate_passes:  # image decoder's batch-norm (method.internal=false)
                out_all = cat_forward(self.forward(x, gate[:B]), self.forward(x_r, gate[B:]))
            else:
                out_all = self.forward(inputs, gate)
        cur = slice_forward(out_all, slice(0, B))
        logs: Dict[str, torch.Tensor] = {}
        logs["recon"] = L.recon_loss(x, cur.recon, model.bce)
        logs["variat"] = A.variational(model, cur.z, cur.mu, cur.logvar, self.n_pixels, y=y)
        logs["pred"] = L.prediction_loss(cur.logits[:, :n_active], y)
        loss_cur = logs["recon"] + logs["variat"] + logs["pred"]
        total = loss_cur
        if replay is not None:
            rep = slice_forward(out_all, slice(B, None))
            logs["recon_r"] = L.recon_loss(x_r, rep.recon, model.bce)
            if self.hard:  # the argmax's prior mode and a cross-entropy against it (upstream's hard targets)
                y_r = scores.argmax(1)
                logs["variat_r"] = A.variational(model, rep.z, rep.mu, rep.logvar, self.n_pixels, y=y_r)
                logs["pred_r"] = L.prediction_loss(rep.logits[:, :n_active], y_r)
            else:
                logs["variat_r"] = A.variational(model, rep.z, rep.mu, rep.logvar, self.n_pixels, weights=pi)
                logs["distil_r"] = L.distillation_loss(rep.logits[:, :n_active], pi, self.temp)
            loss_rep = logs["recon_r"] + logs["variat_r"] + logs["pred_r" if self.hard else "distil_r"]
            outside = torch.zeros((), device=x.device)
            batch = ReplayBatch(x_r, scores, pi, rep, model, x, y, idx, n_active, keys)
            for term in self.terms:
                value, count = term(batch)
                logs[term.name], logs[term.name + "_n"] = value.detach(), count
                if term.in_replay:
                    loss_rep = loss_rep + term.weight * value
                else:
                    outside = outside + term.weight * value
            r = 1.0 / task
            total = r * loss_cur + (1.0 - r) * loss_rep + outside
        logs["loss"] = total.detach()
        return total, logs
