"""The BI-R objective written once (docs/method.md, Total loss): from the network's outputs on the current and the
replayed rows, their targets and the variant's terms, to the total loss and its logged parts.

Every path that trains a BI-R network calls :func:`objective`: the eager step directly, the compiled whole step
inside its graph, and the batched step of many trials under ``vmap`` over ``functional_call`` (the network's
parameters swapped for one trial's, its searched values 0-dim tensors). So it reads the network only through
``model`` (its prior and switches) and takes any per-trial value (``temp``, the terms' attributes) as a float or
a 0-dim tensor alike; it draws nothing at random and reads nothing back to the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch.nn import functional as F

from birsweep.methods import bir_ablation as A
from birsweep.methods import bir_losses as L
from birsweep.methods.terms import LossTerm, ReplayBatch
from birsweep.models.bir import BIRNet, Forward

Scalar = Union[float, torch.Tensor]  # a hyper-parameter: a number, or one trial's 0-dim tensor under vmap


def replay_gate(
    gate: torch.Tensor, scores: torch.Tensor, temp: Scalar, n_active: int, hard: bool
) -> Tuple[torch.Tensor, torch.Tensor]:
    """(pi, the gate of current then replayed rows): a replayed row is gated by its soft (or hard) targets over
    the active classes, zero on the rest, as upstream."""
    pi = A.replay_weights(scores, temp, n_active, hard)
    return pi, torch.cat([gate, F.pad(pi, (0, gate.shape[1] - n_active))])


def rows(out: Forward, sl: slice) -> Forward:
    """The rows ``sl`` of a fused pass over current and replayed inputs, in float32 (a bf16 pass's losses are
    taken in float32). Field by field, not through dataclasses.fields: torch.compile traces this unbroken."""
    return Forward(
        out.hE[sl].float(),
        out.mu[sl].float(),
        out.logvar[sl].float(),
        out.z[sl].float(),
        out.recon[sl].float(),
        out.logits[sl].float(),
    )


@dataclass
class Replayed:
    """The replayed rows of a step: inputs, the previous model's logits on the old classes, their targets pi
    (:func:`replay_gate`) and the current network's pass over them."""

    x: torch.Tensor
    scores: torch.Tensor
    pi: torch.Tensor
    out: Forward


@dataclass
class Setting:
    """What the objective needs besides tensors: the same for every trial of a batch except ``temp``."""

    task: int  # 1-based: the tasks seen
    n_active: int  # classes seen including this task
    n_pixels: int
    temp: Scalar  # distillation temperature
    hard: bool  # method.targets=hard: replay labelled by the previous model's argmax


def objective(
    model: BIRNet,
    x: torch.Tensor,
    y: torch.Tensor,
    cur: Forward,
    s: Setting,
    rep: Optional[Replayed] = None,
    terms: Sequence[LossTerm] = (),
    idx: Optional[torch.Tensor] = None,
    keys: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The total loss (with its graph) and the logged values (detached; a term's count as ``<name>_n``).
    ``terms`` act on steps with replay: inside the replay loss (``in_replay``) or added to the total."""
    logs: Dict[str, torch.Tensor] = {}
    logs["recon"] = L.recon_loss(x, cur.recon, model.bce)
    logs["variat"] = A.variational(model, cur.z, cur.mu, cur.logvar, s.n_pixels, y=y)
    logs["pred"] = L.prediction_loss(cur.logits[:, : s.n_active], y)
    total = logs["recon"] + logs["variat"] + logs["pred"]
    if rep is not None:
        out = rep.out
        logs["recon_r"] = L.recon_loss(rep.x, out.recon, model.bce)
        if s.hard:  # the argmax's prior mode and a cross-entropy against it (upstream's hard targets)
            y_r = rep.scores.argmax(1)
            logs["variat_r"] = A.variational(model, out.z, out.mu, out.logvar, s.n_pixels, y=y_r)
            logs["pred_r"] = L.prediction_loss(out.logits[:, : s.n_active], y_r)
        else:
            logs["variat_r"] = A.variational(model, out.z, out.mu, out.logvar, s.n_pixels, weights=rep.pi)
            logs["distil_r"] = L.distillation_loss(out.logits[:, : s.n_active], rep.pi, s.temp)
        loss_rep = logs["recon_r"] + logs["variat_r"] + logs["pred_r" if s.hard else "distil_r"]
        outside = torch.zeros((), device=x.device)
        batch = ReplayBatch(rep.x, rep.scores, rep.pi, out, model, x, y, idx, s.n_active, keys)
        for term in terms:
            value, count = term(batch)
            logs[term.name], logs[term.name + "_n"] = value.detach(), count
            if term.in_replay:
                loss_rep = loss_rep + term.weight * value
            else:
                outside = outside + term.weight * value
        total = L.mix(total, loss_rep, s.task) + outside
    logs["loss"] = total.detach()
    return total, logs
