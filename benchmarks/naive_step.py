"""A straightforward re-implementation of one upstream BI-R + SI step, the way the original code does it:
separate current and replay passes, numpy class draws and one-hot gates, per-sample ``.item()`` look-ups,
SI as Python loops over parameters with an autograd penalty, and the default (non-fused) Adam.

Same maths as ``birsweep.train.step.eager.TrainStep``; it exists only so the benchmark can state a speed ratio.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from birsweep.methods import bir_losses as L


def _one_hot_numpy(labels: np.ndarray, n: int, device) -> torch.Tensor:
    out = np.zeros((len(labels), n), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return torch.from_numpy(out).to(device)


class NaiveStep:
    def __init__(self, model, si_c: float, epsilon: float, lr: float, n_pixels: int, temp: float = 2.0):
        self.model, self.c, self.eps, self.n_pixels, self.temp = model, si_c, epsilon, n_pixels, temp
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=False)
        names = ("fcE", "classifier")
        self.tracked = {n: p for n, p in model.named_parameters() if n.split(".")[0] in names}
        self.anchor = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.omega = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
        self.W = {n: torch.zeros_like(p) for n, p in self.tracked.items()}
        self.p_old = {n: p.detach().clone() for n, p in self.tracked.items()}

    def __call__(self, x, y, task, n_active, previous, n_old, batch_replay):
        m, dev, C = self.model, x.device, self.model.n_classes
        m.train()
        self.opt.zero_grad()
        # current data: one-hot gates built on the host from labels
        y_np = y.cpu().numpy()
        out = m(x, _one_hot_numpy(y_np, C, dev))
        modes = torch.LongTensor([[y[i].item()] for i in range(len(y))]).to(dev)  # upstream's per-sample look-up
        rec = L.recon_loss(x, out.recon, m.bce)
        var = L.variational_loss(
            out.z, out.mu, out.logvar, m.prior_mu, m.prior_logvar, self.n_pixels, y=modes.squeeze(1)
        )
        pred = F.cross_entropy(out.logits[:, :n_active], y)
        loss = rec + var + pred
        if previous is not None:
            classes = np.random.randint(0, n_old, batch_replay)
            with torch.no_grad():
                mu, logvar = previous.prior_mu[classes], previous.prior_logvar[classes]
                z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
                x_r = previous.output(previous.decode(z, _one_hot_numpy(classes, C, dev)))
                scores = previous.classify(x_r)[:, :n_old]
            pi = L.soft_targets(scores, self.temp, n_active)
            out_r = m(x_r, F.pad(pi, (0, C - n_active)))
            rep = (
                L.recon_loss(x_r, out_r.recon, m.bce)
                + L.variational_loss(
                    out_r.z, out_r.mu, out_r.logvar, m.prior_mu, m.prior_logvar, self.n_pixels, weights=pi
                )
                + L.distillation_loss(out_r.logits[:, :n_active], pi, self.temp)
            )
            loss = loss / task + (1 - 1 / task) * rep
        penalty = 0.0
        for n, p in m.named_parameters():
            penalty = penalty + (self.omega[n] * (p - self.anchor[n]) ** 2).sum()
        loss = loss + self.c * penalty
        loss.backward()
        self.opt.step()
        for n, p in self.tracked.items():
            if p.grad is not None:
                self.W[n].add_(-p.grad * (p.detach() - self.p_old[n]))
            self.p_old[n] = p.detach().clone()
        return loss.item()
