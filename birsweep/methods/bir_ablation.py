"""The pieces BI-R's ablations switch (docs/method.md, Ablations), as upstream's ``AutoEncoder`` does them: hard or
soft replay targets, the conditional (GMM) or standard normal prior, and the separate generator of BI-R without
replay through feedback (a BI-R network without classifier, trained on its own losses in the same loop).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import torch
from torch.nn import functional as F

from birsweep.methods import bir_losses as L
from birsweep.methods.gr import standard_kl
from birsweep.models.bir import BIRNet, cat_forward
from birsweep.models.classifier import Classifier


def replay_weights(scores: torch.Tensor, temp: Union[float, torch.Tensor], n_active: int, hard: bool) -> torch.Tensor:
    """What a replayed sample is gated and (conditional prior) weighted by, over the active classes: the previous
    model's softmax at temperature ``temp`` (soft targets) or the one-hot of its argmax (hard targets), zero on the
    current task's classes."""
    if hard:
        return F.one_hot(scores.argmax(1), n_active).to(scores.dtype)
    return L.soft_targets(scores, temp, n_active)


def variational(
    model: BIRNet,
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    n_pixels: int,
    y: Optional[torch.Tensor] = None,
    weights: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """The KL term of a batch divided by the input's pixel count: Monte-Carlo against the class mode of ``y`` or the
    ``weights``-mixture of modes (conditional prior), or in closed form against N(0, I) (standard prior, where the
    labels play no part, as upstream)."""
    if not model.conditional:
        return standard_kl(mu, logvar).mean() / n_pixels
    return L.variational_loss(z, mu, logvar, model.prior_mu, model.prior_logvar, n_pixels, y=y, weights=weights)


class SeparateBIRReplay:
    """BI-R without feedback: the previous generator samples old classes (prior mode and/or gate of a class drawn
    uniformly, as with feedback), the previous separate classifier scores them on the old classes."""

    def __init__(self, generator: BIRNet, classifier: Classifier, n_old: int, batch_size: int):
        self.generator, self.classifier = generator, classifier
        self.n_old, self.batch_size = n_old, batch_size

    @torch.no_grad()
    def sample(self, current: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        gen = self.generator
        device = gen.out.weight.device
        if gen.conditional or gen.gates:
            x = gen.generate(torch.randint(0, self.n_old, (self.batch_size,), device=device))
        else:  # the class would play no part: upstream draws none (so s-GR draws as method=gr's generator)
            x = gen.output(gen.decode(torch.randn(self.batch_size, gen.z_dim, device=device), None))
        return x, self.classifier.classify(x)[:, : self.n_old]


class BIRGeneratorTrainer:
    """One optimiser step of the separate generator: BI-R's reconstruction and variational losses (no prediction
    loss: it has no classifier) on the current batch, gated and prior-selected by the true label, and on the replayed
    batch by the previous classifier's soft or hard targets, weighted 1/t and 1 - 1/t (upstream's ``train_a_batch``
    of a generator built with ``classifier=False``)."""

    def __init__(
        self, generator: BIRNet, optimizer: torch.optim.Optimizer, n_pixels: int, temp: float, hard: bool
    ) -> None:
        self.generator, self.optimizer = generator, optimizer
        self.n_pixels, self.temp, self.hard = n_pixels, temp, hard

    def replay_source(
        self, previous_generator: BIRNet, previous_classifier: Classifier, n_old: int, batch_size: int
    ) -> SeparateBIRReplay:
        return SeparateBIRReplay(previous_generator, previous_classifier, n_old, batch_size)

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        x_r: Optional[torch.Tensor],
        scores: Optional[torch.Tensor],
        task: int,
        n_active: int,
    ) -> Dict[str, torch.Tensor]:
        gen, C = self.generator, self.generator.n_classes
        gen.train()
        gate = F.one_hot(y, C).to(x.dtype)
        pi = None
        if x_r is None or scores is None:
            out = gen(x, gate)
        else:
            pi = replay_weights(scores, self.temp, n_active, self.hard)
            gate = torch.cat([gate, F.pad(pi, (0, C - n_active))])
            if gen.separate_passes:  # image decoder's batch-norm: one pass each, as upstream
                out = cat_forward(gen(x, gate[: len(x)]), gen(x_r, gate[len(x) :]))
            else:  # one pass: the fc layers have no batch-norm or dropout, so exact
                out = gen(torch.cat([x, x_r]), gate)
        B = len(x)
        rec = L.recon_loss(x, out.recon[:B], gen.bce)
        kl = variational(gen, out.z[:B], out.mu[:B], out.logvar[:B], self.n_pixels, y=y)
        logs = {"gen_recon": rec.detach(), "gen_variat": kl.detach()}
        total = rec + kl
        if x_r is not None and scores is not None and pi is not None:
            y_r = scores.argmax(1) if self.hard else None
            rec_r = L.recon_loss(x_r, out.recon[B:], gen.bce)
            kl_r = variational(
                gen, out.z[B:], out.mu[B:], out.logvar[B:], self.n_pixels, y=y_r, weights=None if self.hard else pi
            )
            logs["gen_recon_r"], logs["gen_variat_r"] = rec_r.detach(), kl_r.detach()
            total = L.mix(total, rec_r + kl_r, task)
        self.optimizer.zero_grad(set_to_none=False)
        torch.autograd.backward(total)
        self.optimizer.step()
        logs["gen_loss"] = total.detach()
        return logs
