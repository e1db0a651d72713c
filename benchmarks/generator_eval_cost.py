"""What the generator evaluation costs against training, at the protocols' shapes (docs/method.md, Generator
evaluation): seconds per test sample of the log-likelihood (S = 100) and recon error, seconds per training step
(forward, backward and Adam on a batch of current + replayed samples), and for CIFAR the evaluation classifier's
training step (frozen conv encoder on augmented images). Prints the extrapolated totals of one run.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/generator_eval_cost.py
"""

from __future__ import annotations

import time

import torch
from torch.nn import functional as F

from birsweep.data.augment import crop_flip
from birsweep.gen_eval.classifier import EvalClassifier
from birsweep.gen_eval.loglik import log_likelihood, recon_error
from birsweep.gen_eval.views import bir_view
from birsweep.models.bir import BIRNet
from birsweep.models.encoder import ConvEncoder

# name: (input dim, fc units, classes, bce, batch, iters per task, tasks, test samples)
SHAPES = {
    "digits (8x8, splitMNIST protocol)": (64, 400, 10, True, 128, 2000, 5, 360),
    "Fashion-MNIST (28x28)": (784, 400, 10, True, 128, 2000, 5, 10000),
    "CIFAR-100 (conv features)": (1024, 2000, 100, False, 256, 5000, 10, 10000),
}


def _timed(fn, repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _one_shape(
    name: str, dim: int, units: int, classes: int, bce: bool, batch: int, iters: int, tasks: int, n_test: int
) -> None:
    model = BIRNet(dim, classes, 3, units, units, 100, 0.6, bce=bce)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(2 * batch, dim)
    y = torch.randint(0, classes, (2 * batch,))

    def step() -> None:
        out = model(x, F.one_hot(y, classes).float())
        loss = F.cross_entropy(out.logits, y) + out.recon.pow(2).mean() + out.mu.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step_s = _timed(step, 3)
    xt, yt = x[:20], y[:20]
    model.eval()
    ll_s = _timed(lambda: log_likelihood(bir_view(model), xt, yt, 100, torch.Generator()), 1) / len(xt)
    re_s = _timed(lambda: recon_error(bir_view(model), xt, yt), 3) / len(xt)
    train_total, eval_total = step_s * iters * tasks, (ll_s + re_s) * n_test
    print(
        f"{name}: train step {step_s * 1e3:.1f} ms -> {train_total / 60:.1f} min for {tasks}x{iters} its; "
        f"LL {ll_s * 1e3:.2f} ms + recon {re_s * 1e3:.3f} ms per test sample -> {eval_total:.0f} s for "
        f"{n_test} test samples ({100 * eval_total / train_total:.1f}% of training)"
    )


def main() -> None:
    torch.set_num_threads(1)
    for name, shape in SHAPES.items():
        _one_shape(name, *shape)
    encoder, head = ConvEncoder().eval(), EvalClassifier(1024, 2000, 100)
    opt = torch.optim.Adam(head.parameters(), lr=1e-4)
    images, labels = torch.rand(256, 3, 32, 32), torch.randint(0, 100, (256,))

    def classifier_step() -> None:
        with torch.no_grad():
            h = encoder(crop_flip(images))
        loss = F.cross_entropy(head(h), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    c_s = _timed(classifier_step, 2)
    print(f"evaluation classifier (f20): {c_s:.2f} s per step of 256 -> {c_s * 20 * 195 / 3600:.1f} h for 20 epochs")


if __name__ == "__main__":
    main()
