"""Speed and memory of the BI-R + SI training step at CIFAR-100 shapes (1024-d features, 100 classes,
batch 256 + 256 replayed), on synthetic data.

Prints iterations per second and peak memory for task 1 (no replay) and tasks 2+ (replay), for birsweep's step
and for a straightforward per-sample implementation (benchmarks/naive_step.py), with their ratio; each
variant's step next to the baseline (tasks 2+, where its terms are active); then each variant's step against the
machine's own limit, at CIFAR-100 and split-MNIST shapes: the step's FLOPs (``FlopCounterMode``: matrix products
and convolutions), the GFLOP/s it achieves, and the fraction of the fp32 peak that a large ``torch.mm`` reaches in
the same process with the same thread count (benchmarks/flops.py); then one end-to-end figure: seconds for a full
10-task run of N iterations per task through ``birsweep.train`` (``--e2e-iters 0`` leaves it out).
Each configuration runs in its own process so peak memory is its own.

    python benchmarks/step_speed.py [--iters 30] [--e2e-iters 20] [--device auto] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, List

if TYPE_CHECKING:
    from omegaconf import DictConfig

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(os.path.dirname(HERE), "conf")
VARIANTS = ("baseline", "repulsion", "recon", "contrastive")
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)


def compose_config(overrides: List[str]) -> DictConfig:
    """The config ``python launch.py`` would compose with ``overrides``."""
    from hydra import compose, initialize_config_dir

    from birsweep.schema import register_configs

    register_configs()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=list(overrides))


def peak_memory_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(
    mode: str, task: int, iters: int, device_name: str, variant: str = "baseline", shape: str = "cifar"
) -> dict:
    """Run one configuration in this process and return its figures."""
    import torch
    from compile_speed import SHAPES  # type: ignore[import-not-found]
    from flops import count_flops, matmul_peak  # type: ignore[import-not-found]

    from birsweep.data.datasets.synthetic import make_synthetic
    from birsweep.data.features import build_inputs
    from birsweep.device import pick_device
    from birsweep.methods.replay import GenerativeReplay, frozen_copy
    from birsweep.methods.si import SynapticIntelligence
    from birsweep.methods.variants import build_terms
    from birsweep.models.bir import BIRNet
    from birsweep.models.encoder import ConvEncoder
    from birsweep.train.step.eager import TrainStep

    sys.path.insert(0, HERE)
    from naive_step import NaiveStep  # type: ignore[import-not-found]

    device = pick_device(device_name)
    mm_size = 8192 if device.type == "cuda" else 2048
    peak = matmul_peak(device, mm_size)  # before and after the timing: the best of both
    peak_cpu = matmul_peak(device, mm_size, clock=time.process_time) if device.type == "cpu" else None
    torch.manual_seed(0)
    image, n_classes, per_task, B, model_kw, si_c, conv = SHAPES[shape]
    n_pixels = int(torch.tensor(image).prod())
    # CIFAR-100 shapes: 5,000 32x32x3 images through a frozen (random) C3-5x16-bn encoder -> 1024-d features;
    # split-MNIST shapes: 500 28x28 images as pixels
    arrays = make_synthetic(image, n_classes, 50, 1, 0.5, 0)
    with tempfile.TemporaryDirectory() as cache:
        encoder = ConvEncoder().to(device).freeze() if conv else None
        inputs = build_inputs(arrays, encoder, False, False, device, cache, keep_images=True, progress=False)
        inputs.ensure(torch.arange(len(arrays.train_y)), torch.arange(len(arrays.test_y)))  # features are lazy
    y_all = torch.randint((task - 1) * per_task, task * per_task, (len(inputs.train),), device=device)
    model = BIRNet(inputs.dim, n_classes, **model_kw).to(device)
    previous = frozen_copy(model) if task > 1 else None
    n_old, n_active = (task - 1) * per_task, task * per_task
    if mode == "naive":
        step = NaiveStep(model, si_c, 0.1, 1e-4, n_pixels)

        def one():
            idx = torch.randint(0, len(y_all), (B,), device=device)
            step(inputs.train[idx], y_all[idx], task, n_active, previous, n_old, B)
    else:
        terms = build_terms(compose_config([f"variant={variant}"]).variant, model, inputs)
        groups = [{"params": list(model.parameters())}]
        for t in terms:
            groups += t.param_groups()
        opt = torch.optim.Adam(groups, lr=1e-4, fused=True)
        si = SynapticIntelligence(model.si_parameters(), si_c, 0.1)
        si.has_omega = task > 1
        step = TrainStep(model, opt, si, n_pixels, 2.0, terms)
        replay = GenerativeReplay(previous, n_old, B) if previous is not None else None

        def one():
            idx = torch.randint(0, len(y_all), (B,), device=device)
            step(inputs.train[idx], y_all[idx], task, n_active, replay, idx)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):
        one()
    sync()
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(iters):
        one()
    sync()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    memory = peak_memory_mb(device)
    flops = count_flops(one)
    peak = max(peak, matmul_peak(device, mm_size))
    if peak_cpu is not None:
        peak_cpu = max(peak_cpu, matmul_peak(device, mm_size, clock=time.process_time))
    return {
        "mode": mode,
        "task": task,
        "variant": variant,
        "shape": shape,
        "it_per_s": iters / seconds,
        "peak_mb": memory,
        "gflop_per_step": flops / 1e9,
        "mm_peak_gflops": peak / 1e9,
        "it_per_cpu_s": iters / cpu_seconds,  # CPU: per second of this process's CPU time (all its threads)
        "mm_peak_gflops_cpu": None if peak_cpu is None else peak_cpu / 1e9,
        "device": str(device),
        "threads": torch.get_num_threads(),
    }


def end_to_end(iters: int, device_name: str) -> dict:
    from birsweep.tracking import record
    from birsweep.train.loop.run import train

    # synthetic data at CIFAR-100 shapes through the conv model with a random frozen encoder
    overrides = ["debug=cifar_shapes", f"trainer.iters={iters}", f"trainer.device={device_name}"]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BIRSWEEP_CACHE_DIR"] = os.path.join(tmp, "cache")
        cfg = compose_config(overrides)
        start = time.perf_counter()
        train(cfg, os.path.join(tmp, "run"))
        total = time.perf_counter() - start
        rec = record.load(os.path.join(tmp, "run"))
    return {
        "iters": iters,
        "total_s": total,
        "train_s": rec["timings"]["train_s"],
        "features_s": rec["timings"]["features_s"],
    }


def child(args) -> None:
    if args.child == "e2e":
        out = end_to_end(args.e2e_iters, args.device)
    else:
        mode, task, shape = args.child.split(":")
        out = measure(mode, int(task), args.iters, args.device, args.variant or "baseline", shape)
    print("RESULT " + json.dumps(out))


def run_child(spec: str, args, variant: str = "") -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        spec,
        "--iters",
        str(args.iters),
        "--e2e-iters",
        str(args.e2e_iters),
        "--device",
        args.device,
        "--variant",
        variant,
    ]
    env = dict(os.environ)
    if args.threads:
        cmd += ["--threads", str(args.threads)]
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"benchmark child {spec} failed:\n{out.stderr}")
    line = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def limits(rows: dict, args) -> None:
    """Each variant's step in tasks 2+ (and the baseline's in task 1) against the fp32 matmul peak measured in its
    own process, at CIFAR-100 shapes (the rows above) and split-MNIST shapes (measured here)."""
    plan = [("cifar", 1, "baseline")] + [(shape, 2, v) for shape in ("cifar", "mnist") for v in VARIANTS]
    print("\nagainst the machine's own limit (fp32 torch.mm, same process and threads):")
    print("(by CPU time: GFLOP per second of the process's CPU time, step and torch.mm alike; fairer under load)")
    print(
        "| shape | step | task | it/s | GFLOP/step | GFLOP/s | mm peak GFLOP/s | fraction of peak "
        "| by CPU time: GFLOP/s | mm peak | fraction |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape, task, variant in plan:
        r = rows.get(("birsweep", task, variant)) if shape == "cifar" else None
        r = r or run_child(f"birsweep:{task}:{shape}", args, variant)
        achieved = r["gflop_per_step"] * r["it_per_s"]
        by_cpu = "| | | |"
        if r["mm_peak_gflops_cpu"]:
            cpu = r["gflop_per_step"] * r["it_per_cpu_s"]
            by_cpu = f"| {cpu:.1f} | {r['mm_peak_gflops_cpu']:.1f} | {cpu / r['mm_peak_gflops_cpu']:.0%} |"
        print(
            f"| {'CIFAR-100' if shape == 'cifar' else 'split-MNIST'} | {variant} | {'1' if task == 1 else '2+'} "
            f"| {r['it_per_s']:.2f} | {r['gflop_per_step']:.2f} | {achieved:.1f} | {r['mm_peak_gflops']:.1f} "
            f"| {achieved / r['mm_peak_gflops']:.0%} {by_cpu}",
            flush=True,
        )
    print(f"torch threads: {rows[('birsweep', 1, 'baseline')]['threads']}, load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=30, help="timed steps per configuration")
    p.add_argument("--e2e-iters", type=int, default=20, help="iterations per task in the end-to-end run (0: none)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--variant", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        return child(args)
    print(f"BI-R + SI training step at CIFAR-100 shapes (batch 256 + 256 replay), {args.iters} timed steps")
    print(f"{'step':<22}{'task':<6}{'it/s':>8}{'peak MB':>9}{'vs baseline':>13}")
    rows = {}
    plan = [
        ("birsweep", 1, "baseline"),
        ("naive", 1, "baseline"),
        ("birsweep", 2, "baseline"),
        ("naive", 2, "baseline"),
    ] + [("birsweep", 2, v) for v in VARIANTS if v != "baseline"]
    for mode, task, variant in plan:
        r = run_child(f"{mode}:{task}:cifar", args, variant)
        rows[(mode, task, variant)] = r
        base = rows[("birsweep", task, "baseline")]  # measured first in the plan
        rel = "" if mode == "naive" or variant == "baseline" else f"{r['it_per_s'] / base['it_per_s']:.2f}x"
        label = mode if variant == "baseline" else f"{mode} {variant}"
        print(f"{label:<22}{'1' if task == 1 else '2+':<6}{r['it_per_s']:>8.2f}{r['peak_mb']:>9.0f}{rel:>13}")
    for task in (1, 2):
        ratio = rows[("birsweep", task, "baseline")]["it_per_s"] / rows[("naive", task, "baseline")]["it_per_s"]
        print(f"speed-up over the naive step, task {'1' if task == 1 else '2+'}: x{ratio:.2f}")
    print(
        f"device: {rows[('birsweep', 1, 'baseline')]['device']}, "
        f"torch threads: {rows[('birsweep', 1, 'baseline')]['threads']}"
    )
    limits(rows, args)
    if args.e2e_iters <= 0:
        return
    e2e = run_child("e2e", args)
    print(
        f"end to end: 10 tasks x {e2e['iters']} iterations in {e2e['total_s']:.1f} s "
        f"(training {e2e['train_s']:.1f} s, encoder features {e2e['features_s']:.1f} s)"
    )


if __name__ == "__main__":
    main()
