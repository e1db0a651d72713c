"""One optimiser step of BI-R + SI (docs/method.md, Total loss), with the variant's extra loss terms composed in.

Current and replayed samples go through the network in one fused pass (the fc layers have no batch-norm or
dropout, so this is exact); the losses are computed per slice. Nothing here reads a value back to the host.
``compile`` picks eager (``off``), a compiled forward pass (``forward``) or the whole step as one compiled graph
(``step``: birsweep/train/step/compiled.py).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from torch.nn import functional as F

from birsweep.device import warn_slow_bf16
from birsweep.methods import bir_objective as O
from birsweep.methods.replay import GenerativeReplay
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.term_noise import noise_for
from birsweep.methods.terms import LossTerm
from birsweep.models.bir import BIRNet, Forward, cat_forward
from birsweep.train.step.compiled import WholeStep, compile_mode, whole_step_for


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
        model = self.model
        gate = F.one_hot(y, model.n_classes).to(x.dtype)
        B = x.shape[0]
        if replay is not None:
            x_r, scores = replay.sample()
            pi, gate = O.replay_gate(gate, scores, self.temp, n_active, self.hard)
        with self._autocast(x.device):
            if replay is None:
                out_all = self.forward(x, gate)
            elif model.separate_passes:  # image decoder's batch-norm (method.internal=false)
                out_all = cat_forward(self.forward(x, gate[:B]), self.forward(x_r, gate[B:]))
            else:
                out_all = self.forward(torch.cat([x, x_r]), gate)
        setting = O.Setting(task, n_active, self.n_pixels, self.temp, self.hard)
        rep = None if replay is None else O.Replayed(x_r, scores, pi, O.rows(out_all, slice(B, None)))
        cur = O.rows(out_all, slice(0, B))
        return O.objective(model, x, y, cur, setting, rep, self.terms, idx, keys)
