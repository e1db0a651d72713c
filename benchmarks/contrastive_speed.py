"""The contrastive variant's eager step against the baseline's, side by side in one process, in tasks 2+ (replay,
SI penalty, the term on), at CIFAR-100 or split-MNIST shapes on synthetic data.

Three steps are built (baseline; contrastive with kornia's ``AugmentationSequential`` views, as before the batched
views; contrastive as it runs now) and timed in alternating rounds, so a change of the machine's load hits all of
them alike. Per step it also counts dispatched aten ops, host reads (birsweep/train/step/host_reads.py) and floating
point operations (``torch.utils.flop_counter``: matrix products and convolutions), and it times the views alone.

    python benchmarks/contrastive_speed.py [--shape cifar] [--iters 3] [--rounds 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any, Callable, Dict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from compile_speed import SHAPES, variant_config  # type: ignore[import-not-found]  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


class Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def build(shape: str, variant: str, reference_views: bool) -> Callable[[], Any]:
    """One training step in task 2 of ``variant`` as a no-argument function (a fresh batch each call)."""
    from birsweep.data.datasets.synthetic import make_synthetic
    from birsweep.data.features import build_inputs
    from birsweep.methods.contrastive_views import kornia_views
    from birsweep.methods.replay import GenerativeReplay, frozen_copy
    from birsweep.methods.si import SynapticIntelligence
    from birsweep.methods.variants import build_terms
    from birsweep.models.bir import BIRNet
    from birsweep.models.encoder import ConvEncoder
    from birsweep.train.step.eager import TrainStep

    image, n_classes, per_task, B, model_kw, si_c, conv = SHAPES[shape]
    torch.manual_seed(0)
    arrays = make_synthetic(image, n_classes, 50, 1, 0.5, 0)
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as cache:
        encoder = ConvEncoder().to(device).freeze() if conv else None
        inputs = build_inputs(arrays, encoder, False, False, device, cache, keep_images=True, progress=False)
        inputs.ensure(torch.arange(len(arrays.train_y)), torch.arange(len(arrays.test_y)))
    model = BIRNet(inputs.dim, n_classes, **model_kw).to(device)
    previous = frozen_copy(model)
    task, n_active = 2, 2 * per_task
    y_all = torch.randint(per_task, n_active, (len(inputs.train),))
    terms = build_terms(variant_config(variant), model, inputs)
    for term in terms:
        if reference_views and getattr(term, "augment", None) is not None:
            term.augment = kornia_views(image[0], image[1:], device)  # type: ignore[attr-defined]
    groups = [{"params": list(model.parameters())}] + [g for t in terms for g in t.param_groups()]
    opt = torch.optim.Adam(groups, lr=1e-4, fused=True)
    si = SynapticIntelligence(model.si_parameters(), si_c, 0.1)
    si.end_task()
    step = TrainStep(model, opt, si, int(torch.tensor(image).prod()), 2.0, terms, "32", "off")
    replay = GenerativeReplay(previous, per_task, B)

    def run() -> Any:
        idx = torch.randint(0, len(y_all), (B,))
        return step(inputs.train_batch(idx), y_all[idx], task, n_active, replay, idx)

    run.views = (lambda: terms[0].current_views(torch.randint(0, len(y_all), (B,)))) if terms else None  # type: ignore[attr-defined]
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", default="cifar", choices=sorted(SHAPES))
    p.add_argument("--iters", type=int, default=3, help="timed steps per configuration and round")
    p.add_argument("--rounds", type=int, default=4, help="alternating rounds over the three configurations")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from birsweep.train.step.host_reads import count_host_reads, total

    configs: Dict[str, Callable[[], Any]] = {
        "baseline": build(args.shape, "baseline", False),
        "contrastive, kornia views": build(args.shape, "contrastive", True),
        "contrastive": build(args.shape, "contrastive", False),
    }
    print(f"{args.shape} shapes, tasks 2+, {args.threads} thread(s), load average {os.getloadavg()[0]:.2f}")
    facts: Dict[str, Dict[str, Any]] = {}
    for name, run in configs.items():
        run()  # warm-up
        ops = Ops()
        with ops:
            run()
        flops = FlopCounterMode(display=False)
        with flops:
            run()
        with count_host_reads() as reads:
            run()
        views_s = None
        if run.views is not None:  # type: ignore[attr-defined]
            start = time.process_time()
            for _ in range(args.iters):
                run.views()  # type: ignore[attr-defined]
            views_s = (time.process_time() - start) / args.iters
        facts[name] = {"ops": ops.count, "gflop": flops.get_total_flops() / 1e9, "reads": dict(reads)}
        facts[name]["host_reads"], facts[name]["views_s"] = total(reads), views_s
    seconds: Dict[str, float] = defaultdict(float)
    cpu: Dict[str, float] = defaultdict(float)  # the process's CPU time: on a shared machine, less noisy
    for _ in range(args.rounds):
        for name, run in configs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(args.iters):
                run()
            seconds[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - start_cpu
    n = args.rounds * args.iters
    print(f"{'step':<27}{'it/s':>7}{'vs base':>9}{'it/CPU s':>10}{'vs base':>9}{'GFLOP':>7}{'bound':>7}", end="")
    print(f"{'ops':>7}{'reads':>7}{'views CPU s':>13}")
    for name, f in facts.items():
        rate, rate_cpu = n / seconds[name], n / cpu[name]
        base, base_cpu = n / seconds["baseline"], n / cpu["baseline"]
        bound = facts["baseline"]["gflop"] / f["gflop"]
        views = f"{f['views_s']:.3f}" if f["views_s"] is not None else ""
        print(
            f"{name:<27}{rate:>7.3f}{rate / base:>8.2f}x{rate_cpu:>10.3f}{rate_cpu / base_cpu:>8.2f}x"
            f"{f['gflop']:>7.1f}{bound:>6.2f}x{f['ops']:>7}{f['host_reads']:>7}{views:>13}"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    for name, f in facts.items():
        print(f"{name} host reads: {f['reads']}")


if __name__ == "__main__":
    main()
