"""The stacked computation behind many trials per job: K copies of the BI-R network as stacked tensors (leading
dim K), one ``vmap`` over the objective every BI-R step computes, and Adam on the stacks with per-trial values
(SI: birsweep/methods/si.py, which takes stacks as they are).

The random tensors (the latent noise, the replayed classes and their noise) are drawn outside by the caller from
each trial's own generator, so a batched trial follows the same numbers as the trial run alone, up to float
reassociation in batched kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from birsweep.methods import bir_objective as O
from birsweep.methods.si import SynapticIntelligence, per_trial
from birsweep.models.bir import BIRNet
from birsweep.train.batched.terms import BatchedTerms

Stack = Dict[str, torch.Tensor]


def stack_models(models: List[BIRNet]) -> Tuple[Stack, Stack]:
    """Parameters (leaves that require grad) and buffers of K networks, each stacked along a new dim 0."""
    params, buffers = stack_module_state(models)
    return {k: v.detach().requires_grad_(True) for k, v in params.items()}, dict(buffers)


def keep(stack: Stack, rows: torch.Tensor) -> Stack:
    """The stack of the trials in ``rows`` only (a trial that left the batch is dropped from every stack)."""
    return {k: v.detach()[rows].requires_grad_(v.requires_grad) for k, v in stack.items()}


class _Trial(nn.Module):
    """``functional_call`` runs a module's forward with one trial's parameters swapped in; this forward runs what
    the step needs of the BI-R network: the replay of the previous network, or one step's objective."""

    def __init__(self, model: BIRNet):
        super().__init__()
        self.model = model

    def forward(self, what: str, *args: Any) -> Any:
        m = self.model
        if what == "replay":  # GenerativeReplay.sample, with the prior noise given
            classes, noise = args
            x = m.generate(classes, noise=noise)
            return x, m.classify(x)
        # "objective": the step's pass and the objective the eager step computes (birsweep/methods/bir_objective.py)
        x, y, gate, eps, setting, replay, terms, keys = args
        if replay is None:
            return O.objective(m, x, y, m(x, gate, eps), setting)
        x_r, scores = replay
        pi, gate = O.replay_gate(gate, scores, setting.temp, setting.n_active, setting.hard)
        out = m(torch.cat([x, x_r]), gate, eps)
        B = x.shape[0]
        rep = O.Replayed(x_r, scores, pi, O.rows(out, slice(B, None)))
        return O.objective(m, x, y, O.rows(out, slice(0, B)), setting, rep, terms, None, keys)


def _named(params: Stack, buffers: Stack) -> Stack:
    return {**{f"model.{k}": v for k, v in params.items()}, **{f"model.{k}": v for k, v in buffers.items()}}


@dataclass
class StepShape:
    """What is the same for every trial of the batch in a step."""

    task: int  # 1-based
    n_active: int  # classes seen including this task
    n_old: int  # classes of earlier tasks (replay)
    n_pixels: int
    hard: bool  # method.targets=hard


@dataclass
class Drawn:
    """One step's inputs and random tensors of every trial, stacked (leading dim K): batch, labels, the latent noise
    ``eps``, and in tasks 2+ the replayed classes and their prior noise; ``keys``: the terms' draws, or None."""

    x: torch.Tensor
    y: torch.Tensor
    eps: torch.Tensor
    classes: Optional[torch.Tensor] = None
    noise: Optional[torch.Tensor] = None
    keys: Optional[torch.Tensor] = None


class BatchedStep:
    """One optimiser step of K trials at once: ``vmap`` over ``functional_call`` of the objective every BI-R step
    computes (birsweep/methods/bir_objective.py), each trial with its own parameters and values."""

    def __init__(self, template: BIRNet):
        self.trial = _Trial(template)
        self.n_classes = template.n_classes

    def sample_replay(
        self, prev: Stack, buffers: Stack, classes: torch.Tensor, noise: torch.Tensor, n_old: int
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Replayed inputs [K, R, D] and the previous models' logits on the old classes [K, R, n_old]."""

        def one(p: Stack, b: Stack, c: torch.Tensor, n: torch.Tensor):
            return functional_call(self.trial, _named(p, b), ("replay", c, n))

        with torch.no_grad():
            x, scores = vmap(one)(prev, buffers, classes, noise)
        return x, scores[..., :n_old]

    def losses(
        self,
        params: Stack,
        buffers: Stack,
        temp: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: torch.Tensor,
        shape: StepShape,
        replay: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
        terms: Optional[BatchedTerms] = None,
        keys: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Every trial's total loss [K] (with its graph) and logged values, each [K] (counts as floats).
        ``terms``: the variant's terms with per-trial values; ``keys`` [K, R]: each trial's term-generator draw."""
        s = shape
        gate = F.one_hot(y, self.n_classes).to(x.dtype)
        with_terms = terms is not None and bool(terms.terms) and replay is not None
        values = terms.values if with_terms and terms is not None else {}

        def one(p: Stack, b: Stack, T: torch.Tensor, x, y, gate, eps, values: Stack, keys, replay):
            setting = O.Setting(s.task, s.n_active, s.n_pixels, T, s.hard)
            mine = terms.for_trial(values) if with_terms and terms is not None else []
            args = ("objective", x, y, gate, eps, setting, replay, mine, keys)
            return functional_call(self.trial, _named(p, b), args)

        key_dim = 0 if keys is not None else None
        rep_dim = (0, 0) if replay is not None else None
        in_dims = (0, 0, 0, 0, 0, 0, 0, 0, key_dim, rep_dim)
        total, logs = vmap(one, in_dims=in_dims)(params, buffers, temp, x, y, gate, eps, values, keys, replay)
        return total, {k: v if v.is_floating_point() else v.float() for k, v in logs.items()}

    def train(
        self,
        params: Stack,
        buffers: Stack,
        prev: Optional[Stack],
        temp: torch.Tensor,
        drawn: Drawn,
        shape: StepShape,
        adam: StackedAdam,
        si: SynapticIntelligence,
        terms: Optional[BatchedTerms] = None,
    ) -> Dict[str, torch.Tensor]:
        """One optimiser step of every trial on drawn inputs: replay from the previous stacks ``prev`` (tasks 2+),
        the objective, gradients, SI and Adam; returns the logged values, each [K] (still on the device)."""
        replay = None
        if drawn.classes is not None and drawn.noise is not None:
            assert prev is not None, "replay needs the stacks of the previous task"
            replay = self.sample_replay(prev, buffers, drawn.classes, drawn.noise, shape.n_old)
        total, logs = self.losses(params, buffers, temp, drawn.x, drawn.y, drawn.eps, shape, replay, terms, drawn.keys)
        for p in params.values():
            p.grad = None
        total.sum().backward()
        si.add_penalty_grad()
        adam.step(params)
        si.after_step()
        return logs


def _grads(params: Stack) -> List[torch.Tensor]:
    out = []
    for k, p in params.items():
        assert p.grad is not None, f"no gradient for {k}"
        out.append(p.grad)
    return out


class StackedAdam:
    """Adam (as torch.optim.Adam, no weight decay or amsgrad) on stacked parameters, each trial with its own lr."""

    def __init__(self, params: Stack, lr: torch.Tensor, betas: Tuple[float, float], eps: float = 1e-8):
        self.lr, self.betas, self.eps, self.t = lr, (float(betas[0]), float(betas[1])), float(eps), 0
        self.exp_avg = {k: torch.zeros_like(p) for k, p in params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(p) for k, p in params.items()}

    def keep(self, rows: torch.Tensor) -> None:
        self.lr = self.lr[rows]
        self.exp_avg, self.exp_avg_sq = keep(self.exp_avg, rows), keep(self.exp_avg_sq, rows)

    @torch.no_grad()
    def step(self, params: Stack) -> None:
        """One update of every stack with ``torch._foreach_*`` ops (one kernel per op and tensor list on CUDA),
        in the per-tensor form's order of operations, so the numbers are the same."""
        b1, b2 = self.betas
        self.t += 1
        bc1, bc2_sqrt = 1 - b1**self.t, math.sqrt(1 - b2**self.t)
        ps, grads = list(params.values()), _grads(params)
        ms, vs = [self.exp_avg[k] for k in params], [self.exp_avg_sq[k] for k in params]
        torch._foreach_lerp_(ms, grads, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, self.eps)
        scale = self.lr / bc1
        update = torch._foreach_mul([per_trial(scale, p) for p in ps], ms)
        torch._foreach_div_(update, denom)
        torch._foreach_sub_(ps, update)
