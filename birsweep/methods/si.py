"""Synaptic Intelligence (Zenke et al. 2017) as BI-R uses it, vectorised with ``torch._foreach_*`` (docs/method.md,
Synaptic Intelligence).

Importance is collected only for the parameters given (fcE and the classifier); all other parameters would
have omega = 0 upstream, so leaving them out is exact. The path integral W uses the gradient of the total
loss (replay terms and the penalty included), as upstream does. The penalty's gradient
``2 c omega (theta - theta_tilde)`` is added to ``.grad`` directly instead of through autograd.

Written once for one network and for K stacked ones (birsweep/train/batched/run.py: each parameter a [K, ...] stack,
``c`` a [K] tensor broadcast over the leading dim, one value per trial).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple, TypedDict, Union

import torch

Strength = Union[float, torch.Tensor]  # SI's c: a number, or [K] for stacked parameters


def per_trial(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A [K] tensor shaped to broadcast against a stacked [K, ...] tensor."""
    return values.view((-1,) + (1,) * (like.dim() - 1))


class SIState(TypedDict):
    anchor: List[torch.Tensor]
    omega: List[torch.Tensor]
    has_omega: bool


class SynapticIntelligence:
    def __init__(self, params: Sequence[torch.Tensor], c: Strength, epsilon: float):
        self.params, self.epsilon = list(params), float(epsilon)
        self.strength: Strength = c if isinstance(c, torch.Tensor) else float(c)
        with torch.no_grad():
            self.anchor = [p.detach().clone() for p in self.params]  # theta_tilde: end of the previous task
            self.omega = [torch.zeros_like(p) for p in self.params]
            self.W = [torch.zeros_like(p) for p in self.params]
            self.prev = [p.detach().clone() for p in self.params]
        self.has_omega = False  # no penalty until the first task has ended

    @property
    def c(self) -> float:
        """One network's strength (stacked networks have one per trial: ``strength``)."""
        assert not isinstance(self.strength, torch.Tensor), "a stacked SI has a strength per trial"
        return self.strength

    @property
    def enabled(self) -> bool:
        """Stacked: always (a trial with c = 0 gets a zero penalty), so no per-trial value is read back."""
        return isinstance(self.strength, torch.Tensor) or self.strength > 0

    def keep(self, rows: torch.Tensor, params: Sequence[torch.Tensor]) -> None:
        """Stacked: the trials at ``rows`` only; ``params``: the tracked stacks as they are now."""
        assert isinstance(self.strength, torch.Tensor), "keep: the parameters are not stacked"
        self.params, self.strength = list(params), self.strength[rows]
        self.anchor, self.omega = [t[rows] for t in self.anchor], [t[rows] for t in self.omega]
        self.W, self.prev = [t[rows] for t in self.W], [t[rows] for t in self.prev]

    @torch.no_grad()
    def begin_task(self) -> None:
        torch._foreach_zero_(self.W)
        torch._foreach_copy_(self.prev, [p.detach() for p in self.params])

    def _grads(self) -> List[torch.Tensor]:
        """The tracked parameters' gradients; a backward pass through the classifier gives every one of them."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if len(grads) != len(self.params):
            raise RuntimeError("SI: a tracked parameter has no gradient; call it after loss.backward()")
        return grads

    def _drift(self) -> Tuple[torch.Tensor, ...]:
        """theta - theta_tilde for every tracked parameter."""
        return torch._foreach_sub([p.detach() for p in self.params], self.anchor)

    @torch.no_grad()
    def add_penalty_grad(self) -> None:
        if self.enabled and self.has_omega:
            self.add_penalty_grad_to(self._grads())

    # --- graph-friendly forms for the whole-step compile: gradients passed in, no branch that flips per task -----
    @torch.no_grad()
    def add_penalty_grad_to(self, grads: List[torch.Tensor]) -> None:
        """As :meth:`add_penalty_grad`, into ``grads`` (the tracked parameters' gradients, in order). Always
        applied: omega is zero until the first task ends, so the added gradient is exactly zero then."""
        if not self.enabled:
            return
        diff = self._drift()
        torch._foreach_mul_(diff, self.omega)
        c = self.strength
        if isinstance(c, torch.Tensor):
            torch._foreach_mul_(diff, [per_trial(2.0 * c, d) for d in diff])
            torch._foreach_add_(grads, diff)
        else:
            torch._foreach_add_(grads, diff, alpha=2.0 * c)

    @torch.no_grad()
    def after_step_with(self, grads: List[torch.Tensor]) -> None:
        """As :meth:`after_step`, with the gradients given instead of read from ``.grad``."""
        if not self.enabled:
            return
        now = [p.detach() for p in self.params]
        delta = torch._foreach_sub(now, self.prev)
        torch._foreach_mul_(delta, grads)
        torch._foreach_sub_(self.W, delta)
        torch._foreach_copy_(self.prev, now)

    @torch.no_grad()
    def penalty(self) -> torch.Tensor:
        """sum_i omega_i (theta_i - theta_tilde_i)^2 (unweighted by c), as a device scalar ([K] when stacked)."""
        c = self.strength
        stacked = isinstance(c, torch.Tensor)
        total = torch.zeros(c.shape if isinstance(c, torch.Tensor) else (), device=self.params[0].device)
        if not self.has_omega:
            return total
        for o, d in zip(self.omega, self._drift()):  # summed in the same order as sum() from 0
            total = total + ((o * d * d).flatten(1).sum(1) if stacked else (o * d * d).sum())
        return total

    @torch.no_grad()
    def after_step(self) -> None:
        """W += -g * (theta - theta_old); theta_old <- theta."""
        if self.enabled:
            self.after_step_with(self._grads())

    @torch.no_grad()
    def end_task(self) -> None:
        """omega += W / ((theta - theta_tilde)^2 + epsilon); theta_tilde <- theta."""
        if not self.enabled:
            return
        now = [p.detach() for p in self.params]
        denom = self._drift()
        torch._foreach_mul_(denom, denom)
        torch._foreach_add_(denom, self.epsilon)
        torch._foreach_add_(self.omega, torch._foreach_div(self.W, denom))
        torch._foreach_copy_(self.anchor, now)
        self.has_omega = True

    def state_dict(self) -> SIState:
        return {"anchor": self.anchor, "omega": self.omega, "has_omega": self.has_omega}

    @torch.no_grad()
    def load_state_dict(self, state: SIState) -> None:
        torch._foreach_copy_(self.anchor, state["anchor"])
        torch._foreach_copy_(self.omega, state["omega"])
        self.has_omega = bool(state["has_omega"])
