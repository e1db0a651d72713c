"""Standard generative replay (Shin et al. 2017) as upstream runs it (``--replay=generative`` without
``--brain-inspired``; docs/method.md, Methods: GR): a separate VAE generator, trained in the same loop on the current
and replayed inputs, produces the replay; the previous classifier labels it with hard targets (its argmax)."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch.nn import functional as F

from birsweep.methods import bir_losses as L
from birsweep.models.classifier import Classifier
from birsweep.models.vae import VAEGenerator


def hard_target_loss(logits: torch.Tensor, previous_scores: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the current logits of the active classes against the previous model's argmax over the
    old classes (``previous_scores``: B x n_old)."""
    return F.cross_entropy(logits, previous_scores.argmax(1))


def standard_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per sample, in closed form."""
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)


def generator_loss(
    x: torch.Tensor, recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, bce: bool, n_pixels: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction loss per unit, KL divided by the number of input pixels), both batch-averaged."""
    return L.recon_loss(x, recon, bce), standard_kl(mu, logvar).mean() / n_pixels


class SeparateGeneratorReplay:
    """Samples of the previous generator, scored on the old classes by the previous classifier."""

    def __init__(self, generator: VAEGenerator, classifier: Classifier, n_old: int, batch_size: int):
        self.generator, self.classifier = generator, classifier
        self.n_old, self.batch_size = n_old, batch_size

    @torch.no_grad()
    def sample(self, current: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.generator.generate(self.batch_size)
        return x, self.classifier.classify(x)[:, : self.n_old]


class GeneratorTrainer:
    """One optimiser step of the separate generator on the current batch and, from task 2, the replayed one,
    weighted 1/t and 1 - 1/t like the classifier's losses."""

    def __init__(self, generator: VAEGenerator, optimizer: torch.optim.Optimizer, n_pixels: int):
        self.generator, self.optimizer, self.n_pixels = generator, optimizer, n_pixels

    def replay_source(
        self, previous_generator: VAEGenerator, previous_classifier: Classifier, n_old: int, batch_size: int
    ) -> SeparateGeneratorReplay:
        return SeparateGeneratorReplay(previous_generator, previous_classifier, n_old, batch_size)

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        x_r: Optional[torch.Tensor],
        scores: Optional[torch.Tensor],
        task: int,
        n_active: int,
    ) -> Dict[str, torch.Tensor]:
        """The labels and the previous model's scores play no part: standard prior, no gates (same seam as BI-R's
        separate generator, birsweep/methods/bir_ablation.py)."""
        gen = self.generator
        gen.train()
        if x_r is not None and gen.separate_passes:  # batch-norm: one pass each, as upstream
            cur, rep = gen(x), gen(x_r)
            recon, mu, logvar = (torch.cat([a, b]) for a, b in zip(cur, rep))
        else:
            recon, mu, logvar = gen(x if x_r is None else torch.cat([x, x_r]))
        B = len(x)
        rec, kl = generator_loss(x, recon[:B], mu[:B], logvar[:B], gen.bce, self.n_pixels)
        logs = {"gen_recon": rec.detach(), "gen_variat": kl.detach()}
        total = rec + kl
        if x_r is not None:
            rec_r, kl_r = generator_loss(x_r, recon[B:], mu[B:], logvar[B:], gen.bce, self.n_pixels)
            logs["gen_recon_r"], logs["gen_variat_r"] = rec_r.detach(), kl_r.detach()
            total = L.mix(total, rec_r + kl_r, task)
        self.optimizer.zero_grad(set_to_none=False)
        torch.autograd.backward(total)
        self.optimizer.step()
        logs["gen_loss"] = total.detach()
        return logs
