"""The stacked computation behind many trials per job: K copies of the BI-R network as stacked tensors (leading
dim K), one ``vmap`` over the step's losses, and Adam and SI on the stacks with per-trial values.

The step mirrors :mod:`birsweep.train.step` term by term and in the same order, with the random tensors (the
latent noise, the replayed classes and their noise) drawn outside by the caller from each trial's own generator,
so a batched trial follows the same numbers as the trial run alone, up to float reassociation in batched kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from birsweep.methods import bir_losses as L
from birsweep.methods.terms import ReplayBatch
from birsweep.models.bir import BIRNet, Forward
from birsweep.train.batched_terms import BatchedTerms

Stack = Dict[str, torch.Tensor]


def stack_models(models: List[BIRNet]) -> Tuple[Stack, Stack]:
    """Parameters (leaves that require grad) and buffers of K networks, each stacked along a new dim 0."""
    params, buffers = stack_module_state(models)
    return {k: v.detach().requires_grad_(True) for k, v in params.items()}, dict(buffers)


def keep(stack: Stack, rows: torch.Tensor) -> Stack:
    """The stack of the trials in ``rows`` only (a trial that left the batch is dropped from every stack)."""
    return {k: v.detach()[rows].requires_grad_(v.requires_grad) for k, v in stack.items()}


def per_trial(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A [K] tensor shaped to broadcast against a stacked [K, ...] tensor."""
    return values.view((-1,) + (1,) * (like.dim() - 1))


class _Calls(nn.Module):
    """``functional_call`` runs a module's forward; this forward runs the BIRNet pieces the step needs."""

    def __init__(self, model: BIRNet):
        super().__init__()
        self.model = model

    def forward(self, what: str, *args: torch.Tensor):
        m = self.model
        if what == "pass":  # BIRNet.forward with the latent noise given
            x, gate, eps = args
            hE, mu, logvar = m.encode(x)
            z = mu + torch.exp(0.5 * logvar) * eps
            return Forward(hE, mu, logvar, z, m.decode(z, gate), m.classifier(hE))
        # "replay": BIRNet.generate then classify, with the prior noise given (GenerativeReplay.sample)
        classes, gate, noise = args
        mu, logvar = m.prior_mu[classes], m.prior_logvar[classes]
        z = mu + torch.exp(0.5 * logvar) * noise
        x = m.output(m.decode(z, gate))
        return x, m.classify(x)


def _rows(out: Forward, start: int) -> Forward:
    """The replayed rows of a fused pass (as birsweep/train/step.py slices them)."""
    return Forward(
        out.hE[start:], out.mu[start:], out.logvar[start:], out.z[start:], out.recon[start:], out.logits[start:]
    )


def _named(params: Stack, buffers: Stack) -> Stack:
    return {**{f"model.{k}": v for k, v in params.items()}, **{f"model.{k}": v for k, v in buffers.items()}}


@dataclass
class StepShape:
    """What is the same for every trial of the batch in a step."""

    task: int  # 1-based
    n_active: int  # classes seen including this task
    n_old: int  # classes of earlier tasks (replay)
    n_pixels: int
    bce: bool


class BatchedStep:
    """One optimiser step of K trials at once (docs/method.md, Total loss, as birsweep/train/step.py)."""

    def __init__(self, template: BIRNet):
        self.calls = _Calls(template)
        self.n_classes = template.n_classes

    def sample_replay(
        self, prev: Stack, buffers: Stack, classes: torch.Tensor, noise: torch.Tensor, n_old: int
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Replayed inputs [K, R, D] and the previous models' logits on the old classes [K, R, n_old]."""
        gate = F.one_hot(classes, self.n_classes).float()

        def one(p: Stack, b: Stack, c: torch.Tensor, g: torch.Tensor, n: torch.Tensor):
            return functional_call(self.calls, _named(p, b), ("replay", c, g, n))

        with torch.no_grad():
            x, scores = vmap(one)(prev, buffers, classes, gate, noise)
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
    ) -> Dict[str, torch.Tensor]:
        """Every trial's loss terms and total, each [K]; ``total`` carries the graph. ``terms``: the variant's
        terms with per-trial values; ``keys`` [K, R]: each trial's draw from its term generator."""
        C, s = self.n_classes, shape
        gate_cur = F.one_hot(y, C).to(x.dtype)
        with_terms = terms is not None and bool(terms.terms) and replay is not None

        def one(p: Stack, b: Stack, T: torch.Tensor, x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor, eps, *rep):
            logs: Dict[str, torch.Tensor] = {}
            inputs = x
            if rep:
                x_r, scores = rep[:2]
                pi = L.soft_targets(scores, T, s.n_active)
                gate = torch.cat([gate, F.pad(pi, (0, C - s.n_active))])
                inputs = torch.cat([x, x_r])
            out: Forward = functional_call(self.calls, _named(p, b), ("pass", inputs, gate, eps))
            B = x.shape[0]
            prior_mu, prior_logvar = p["prior_mu"], p["prior_logvar"]
            logs["recon"] = L.recon_loss(x, out.recon[:B], s.bce)
            logs["variat"] = L.variational_loss(
                out.z[:B], out.mu[:B], out.logvar[:B], prior_mu, prior_logvar, s.n_pixels, y=y
            )
            logs["pred"] = L.prediction_loss(out.logits[:B, : s.n_active], y)
            loss_cur = logs["recon"] + logs["variat"] + logs["pred"]
            total = loss_cur
            if rep:
                logs["recon_r"] = L.recon_loss(x_r, out.recon[B:], s.bce)
                logs["variat_r"] = L.variational_loss(
                    out.z[B:], out.mu[B:], out.logvar[B:], prior_mu, prior_logvar, s.n_pixels, weights=pi
                )
                logs["distil_r"] = L.distillation_loss(out.logits[B:, : s.n_active], pi, T)
                loss_rep = logs["recon_r"] + logs["variat_r"] + logs["distil_r"]
                if with_terms:  # as TrainStep.losses: each term's weighted value inside the replay loss
                    assert terms is not None
                    values, trial_keys = rep[2], rep[3] if len(rep) > 3 else None
                    batch = ReplayBatch(x_r, scores, pi, _rows(out, B), self.calls.model, x, y, None, s.n_active)
                    batch.keys = trial_keys
                    for name, weight, value, count in terms.apply(batch, values):
                        logs[name], logs[name + "_n"] = value, count.float()
                        loss_rep = loss_rep + weight * value
                r = 1.0 / s.task
                total = r * loss_cur + (1.0 - r) * loss_rep
            logs["loss"] = total
            return logs

        args: List[Any] = [params, buffers, temp, x, y, gate_cur, eps]
        args += list(replay) if replay is not None else []
        if with_terms:
            assert terms is not None
            args += [terms.values] + ([keys] if keys is not None else [])
        return vmap(one)(*args)


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


class StackedSI:
    """Synaptic Intelligence (birsweep/methods/si.py) on the stacked fcE and classifier parameters, per-trial c."""

    def __init__(self, params: Stack, c: torch.Tensor, epsilon: float):
        self.names = [k for k in params if k.startswith(("fcE.", "classifier."))]  # BIRNet.si_parameters
        self.c, self.epsilon = c, float(epsilon)
        with torch.no_grad():
            self.anchor = {k: params[k].detach().clone() for k in self.names}
            self.omega = {k: torch.zeros_like(params[k]) for k in self.names}
            self.W = {k: torch.zeros_like(params[k]) for k in self.names}
            self.prev = {k: params[k].detach().clone() for k in self.names}
        self.has_omega = False

    def keep(self, rows: torch.Tensor) -> None:
        self.c = self.c[rows]
        self.anchor, self.omega = keep(self.anchor, rows), keep(self.omega, rows)
        self.W, self.prev = keep(self.W, rows), keep(self.prev, rows)

    @torch.no_grad()
    def begin_task(self, params: Stack) -> None:
        for k in self.names:
            self.W[k].zero_()
            self.prev[k].copy_(params[k])

    @torch.no_grad()
    def add_penalty_grad(self, params: Stack) -> None:
        if not self.has_omega:
            return
        ps = [params[k] for k in self.names]
        diff = torch._foreach_sub(ps, [self.anchor[k] for k in self.names])
        torch._foreach_mul_(diff, [self.omega[k] for k in self.names])
        penalty = torch._foreach_mul([per_trial(2.0 * self.c, p) for p in ps], diff)
        torch._foreach_add_(_grads({k: params[k] for k in self.names}), penalty)

    @torch.no_grad()
    def penalty(self, params: Stack) -> torch.Tensor:
        """[K]: sum_i omega_i (theta_i - theta_tilde_i)^2 per trial (unweighted by c)."""
        total = torch.zeros(len(self.c), device=self.c.device)
        for k in self.names:
            d = params[k] - self.anchor[k]
            total = total + (self.omega[k] * d * d).flatten(1).sum(1)
        return total

    @torch.no_grad()
    def after_step(self, params: Stack) -> None:
        ps, prevs = [params[k] for k in self.names], [self.prev[k] for k in self.names]
        moved = torch._foreach_sub(ps, prevs)
        torch._foreach_mul_(moved, _grads({k: params[k] for k in self.names}))
        torch._foreach_sub_([self.W[k] for k in self.names], moved)
        torch._foreach_copy_(prevs, ps)

    @torch.no_grad()
    def end_task(self, params: Stack) -> None:
        for k in self.names:
            p = params[k]
            d = p - self.anchor[k]
            self.omega[k].add_(self.W[k] / (d * d + self.epsilon))
            self.anchor[k].copy_(p)
        self.has_omega = True
