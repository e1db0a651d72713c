"""Eager against whole-step compiled (``trainer.compile=step``) training steps, side by side, per variant, at
split-MNIST and CIFAR-100 shapes, on synthetic data, in tasks 2+ (replay, SI penalty and the variant's terms on).

For each configuration (its own process, ``--threads`` torch threads): iterations per second after warm-up, the
seconds the warm-up took (the compile, for ``step``), dispatched aten ops per eager step, kernels per compiled step
(inductor's generated kernels plus the matmuls and convolutions it calls out to), host reads per eager step
(``birsweep/train/step/host_reads.py``) and Dynamo's graph breaks in the compiled step.

    python benchmarks/compile_speed.py [--iters 10] [--threads 1] [--shapes mnist,cifar] [--variants ...]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from typing import Any, Callable, Dict, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)
VARIANTS = ("baseline", "repulsion", "recon", "contrastive")
EXTERN = ("mm", "addmm", "bmm", "convolution")  # ops inductor leaves to MKL / cuBLAS / cuDNN: still one call each

# shape: (image shape, classes, classes per task, batch, model keywords, SI c, conv encoder)
SHAPES: Dict[str, Any] = {
    "mnist": ([1, 28, 28], 10, 2, 128, dict(fc_layers=3, fc_units=400, h_dim=400, dg_prop=0.8, bce=True), 0.1, False),
    "cifar": ([3, 32, 32], 100, 10, 256, {}, 1e8, True),
    # the test suite's debug=tiny sizes (8x8 pixels, fc 64, z 16): seconds on one core (gpu_check.py --tiny)
    "tiny": ([1, 8, 8], 10, 2, 16, dict(fc_units=64, h_dim=64, z_dim=16), 0.1, False),
}


@functools.cache
def variant_config(variant: str) -> Any:
    """The ``variant`` section ``python launch.py variant=<variant>`` composes."""
    from hydra import compose, initialize_config_dir

    from birsweep.schema import register_configs

    register_configs()
    with initialize_config_dir(config_dir=os.path.join(ROOT, "conf"), version_base="1.3"):
        return compose("config", overrides=[f"variant={variant}"]).variant


def cuda_launches(run: Callable[[], Any], steps: int = 3) -> Dict[str, float]:
    """Per call of ``run`` on CUDA, from torch.profiler: kernel launches and CUDA graph launches the host made, and
    the kernels the device ran (inside graphs too, where the profiler sees them)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    run()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            run()
        torch.cuda.synchronize()
    names = [e.name for e in prof.events()]
    device_kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return {
        "launches_per_step": sum("LaunchKernel" in n for n in names) / steps,
        "graph_launches_per_step": sum("GraphLaunch" in n for n in names) / steps,
        "device_kernels_per_step": len(device_kernels) / steps,
    }


def measure(
    shape: str,
    variant: str,
    mode: str,
    iters: int,
    device_name: str,
    inner: Optional[str] = None,
    explain: bool = True,
) -> Dict[str, Any]:
    """One configuration's figures, in this process. ``inner``: the compiler behind Dynamo for ``step`` (default
    inductor; gpu_check.py --tiny takes aot_eager, which builds no C++); ``explain``: count the graph breaks (one
    more trace of the step)."""
    import torch
    import torch._dynamo
    import torch._inductor.metrics as inductor_metrics
    from torch.utils._python_dispatch import TorchDispatchMode

    from birsweep.data.datasets.synthetic import make_synthetic
    from birsweep.data.features import build_inputs
    from birsweep.device import pick_device
    from birsweep.methods.replay import GenerativeReplay, frozen_copy
    from birsweep.methods.si import SynapticIntelligence
    from birsweep.methods.variants import build_terms
    from birsweep.models.bir import BIRNet
    from birsweep.models.encoder import ConvEncoder
    from birsweep.train.step.eager import TrainStep
    from birsweep.train.step.host_reads import count_host_reads, total

    class Ops(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.counts: Counter = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.counts[func.overloadpacket.__name__] += 1
            return func(*args, **(kwargs or {}))

    device = pick_device(device_name)
    image, n_classes, per_task, B, model_kw, si_c, conv = SHAPES[shape]
    torch.manual_seed(0)
    arrays = make_synthetic(image, n_classes, 50, 1, 0.5, 0)
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        encoder = ConvEncoder().to(device).freeze() if conv else None
        inputs = build_inputs(arrays, encoder, False, False, device, cache, keep_images=True, progress=False)
        inputs.ensure(torch.arange(len(arrays.train_y)), torch.arange(len(arrays.test_y)))  # features are lazy
    model = BIRNet(inputs.dim, n_classes, **model_kw).to(device)
    previous = frozen_copy(model)
    task, n_active = 2, 2 * per_task
    y_all = torch.randint(per_task, n_active, (len(inputs.train),), device=device)
    terms = build_terms(variant_config(variant), model, inputs)
    groups = [{"params": list(model.parameters())}] + [g for t in terms for g in t.param_groups()]
    opt = torch.optim.Adam(groups, lr=1e-4, fused=True)
    si = SynapticIntelligence(model.si_parameters(), si_c, 0.1)
    si.end_task()  # importance on, as after task 1
    n_pixels = int(torch.tensor(image).prod())
    step = TrainStep(model, opt, si, n_pixels, 2.0, terms, "32", mode)
    if step.whole is not None and inner is not None:
        step.whole.inner = inner
    replay = GenerativeReplay(previous, per_task, B)

    def batch():
        idx = torch.randint(0, len(y_all), (B,), device=device)
        return inputs.train_batch(idx), y_all[idx], task, n_active, replay, idx

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    out: Dict[str, Any] = {"shape": shape, "variant": variant, "mode": mode, "threads": torch.get_num_threads()}
    kernels_before = inductor_metrics.generated_kernel_count
    start = time.perf_counter()
    for _ in range(3):
        step(*batch())
    sync()
    out["warmup_s"] = time.perf_counter() - start
    if mode == "off":
        with Ops() as ops:
            step(*batch())
        out["ops_per_step"] = sum(ops.counts.values())
        out["extern_per_step"] = sum(ops.counts[k] for k in EXTERN)
        with count_host_reads() as reads:
            step(*batch())
        out["host_reads"] = total(reads)
        out["host_read_kinds"] = dict(reads)
        from flops import count_flops  # type: ignore[import-not-found]

        out["gflop_per_step"] = count_flops(lambda: step(*batch())) / 1e9
    elif step.whole is not None:  # None: a term keeps the step eager (whole_step_for warned)
        out["generated_kernels"] = inductor_metrics.generated_kernel_count - kernels_before
    if device.type == "cuda":
        out.update(cuda_launches(lambda: step(*batch())))
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(iters):
        step(*batch())
    sync()
    out["it_per_s"] = iters / (time.perf_counter() - start)
    # CUDA: the most allocated during the timed steps (the CUDA graph's pool included); CPU: the process's peak RSS
    out["peak_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    if step.whole is not None:
        out["compiles"] = step.whole.compiles  # 1: nothing recompiled while timed
    if step.whole is not None and explain:  # after the timing: explain resets Dynamo's caches
        with torch._dynamo.config.patch(trace_autograd_ops=True):
            report = torch._dynamo.explain(step.whole.run)(*batch())
        out["graph_breaks"] = report.graph_break_count
        out["break_reasons"] = sorted({r.reason.splitlines()[0][:120] for r in report.break_reasons})
    out["device"] = str(device)
    return out


def run_child(args, shape: str, variant: str, mode: str) -> Dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", f"{shape}:{variant}:{mode}", "--iters", str(args.iters)]
    cmd += ["--threads", str(args.threads), "--device", args.device]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"benchmark child {shape}:{variant}:{mode} failed:\n{done.stderr[-3000:]}")
    line = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=10, help="timed steps per configuration, after 3 warm-up steps")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per configuration")
    p.add_argument("--device", default="auto")
    p.add_argument("--shapes", default="mnist,cifar")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--modes", default="off,step")
    p.add_argument("--json", default=None, help="also write every figure to this file")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        shape, variant, mode = args.child.split(":")
        print("RESULT " + json.dumps(measure(shape, variant, mode, args.iters, args.device)))
        return
    print(f"eager vs whole-step compiled, tasks 2+, {args.iters} timed steps, {args.threads} thread(s)")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    head = f"{'shape':<7}{'variant':<13}{'mode':<6}{'it/s':>8}{'warm-up s':>11}{'ops/step':>10}"
    print(head + f"{'host reads':>12}{'breaks':>8}{'vs eager':>10}{'vs baseline':>13}")
    rows = []
    for shape in args.shapes.split(","):
        for variant in args.variants.split(","):
            eager = None
            for mode in args.modes.split(","):
                r = run_child(args, shape, variant, mode)
                rows.append(r)
                if mode == "off":
                    eager = r
                base = next(
                    (b for b in rows if b["shape"] == shape and b["variant"] == "baseline" and b["mode"] == mode), None
                )
                ops = r.get("ops_per_step")
                if ops is None and eager is not None and "generated_kernels" in r:  # plus the extern matmuls
                    ops = r.get("generated_kernels", 0) + eager["extern_per_step"]
                vs_eager = f"{r['it_per_s'] / eager['it_per_s']:.2f}x" if eager and mode != "off" else ""
                vs_base = f"{r['it_per_s'] / base['it_per_s']:.2f}x" if base and variant != "baseline" else ""
                print(
                    f"{shape:<7}{variant:<13}{mode:<6}{r['it_per_s']:>8.2f}{r['warmup_s']:>11.1f}"
                    f"{ops if ops is not None else '':>10}{r.get('host_reads', ''):>12}"
                    f"{r.get('graph_breaks', ''):>8}{vs_eager:>10}{vs_base:>13}",
                    flush=True,
                )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    for r in rows:
        if r.get("break_reasons"):
            print(f"{r['shape']} {r['variant']} graph breaks: " + " | ".join(r["break_reasons"]))
        if r.get("host_read_kinds"):
            print(f"{r['shape']} {r['variant']} host reads: {r['host_read_kinds']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
