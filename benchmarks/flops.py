"""A step's floating-point work and the machine's own fp32 limit, to put a measured speed against what the hardware
can do: FLOPs counted with ``torch.utils.flop_counter.FlopCounterMode`` (matrix products and convolutions, forward
and backward; the elementwise work is not counted) and the rate of a large fp32 ``torch.mm`` on the same device with
the same thread count (the practical peak of the dense maths a step is bound by).

Used by benchmarks/step_speed.py (the CPU against its own limit) and benchmarks/gpu_check.py (the paper run against
its arithmetic bound).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

# published dense fp32 peaks (no tensor cores) in FLOP/s, by a part of the device's name; the first match counts
SPEC_FP32 = (
    ("H100 PCIe", 51.2e12),
    ("H100 NVL", 60.0e12),
    ("H100", 66.9e12),  # SXM
    ("H200", 66.9e12),
    ("A100", 19.5e12),
)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (an eager step: a compiled graph's kernels bypass the counter)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(
    device: torch.device, n: int = 2048, repeats: int = 5, clock: Callable[[], float] = time.perf_counter
) -> float:
    """FLOP/s of the fastest of ``repeats`` fp32 ``n x n`` products on ``device`` (torch's current thread count on a
    CPU; TF32 off on CUDA, as the step runs by default). The best, not the mean: on a shared machine that is the
    closest to what the hardware gives. ``clock``: ``time.process_time`` gives FLOPs per second of this process's
    CPU time (all its threads), the fairer figure on a loaded CPU."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    out = torch.empty(n, n, device=device)
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        torch.mm(a, b, out=out)  # warm-up: thread pool, cuBLAS handle
        _sync(device)
        best = float("inf")
        for _ in range(repeats):
            start = clock()
            torch.mm(a, b, out=out)
            _sync(device)
            best = min(best, clock() - start)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return 2.0 * n**3 / best


def spec_peak(device_name: str) -> Optional[float]:
    """The published dense fp32 peak (FLOP/s) of a GPU, by its name; None if not in SPEC_FP32."""
    for part, peak in SPEC_FP32:
        if part in device_name:
            return peak
    return None
