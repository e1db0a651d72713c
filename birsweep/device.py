"""Device choice and seeding. CUDA paths are guarded so a CPU-only machine never touches them."""

from __future__ import annotations

import functools
import logging
import random
from typing import Set

import numpy as np
import torch

from birsweep.errors import ConfigError

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"trainer.device={name} but no CUDA device is visible; use trainer.device=auto or cpu")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"trainer.device={name} but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed every RNG the run may touch (torch CPU and CUDA, numpy, random)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds all CUDA devices


def cpu_flags() -> Set[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty where that file does not exist."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 units that run bf16 maths natively


@functools.cache
def warn_slow_bf16(precision: str, device_type: str) -> bool:
    """Warn (once per process) that trainer.precision=bf16 is emulated on an x86 CPU without bf16 units, where
    it runs many times slower than fp32. Returns whether it warned."""
    if precision != "bf16" or device_type != "cpu":
        return False
    flags = cpu_flags()
    if not flags or "avx2" not in flags and "avx512f" not in flags or any(f in flags for f in BF16_CPU_FLAGS):
        return False  # not an x86 Linux CPU we can judge, or one with bf16 units
    log.warning(
        "trainer.precision=bf16 on a CPU without bf16 units (no %s): bf16 maths is emulated and far slower than "
        "fp32; use trainer.precision=32 on this machine",
        " or ".join(BF16_CPU_FLAGS),
    )
    return True
