"""Device choice and seeding. CUDA paths are guarded so a CPU-only machine never touches them."""

from __future__ import annotations

import random

import numpy as np
import torch

from birsweep.errors import ConfigError


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
