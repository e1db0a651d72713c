"""Loss bookkeeping that stays on the device between log points: one host sync per interval."""

from __future__ import annotations

import math
from typing import Dict

import torch

from birsweep.errors import NonFiniteLossError


class LossMeter:
    def __init__(self):
        self.sums: Dict[str, torch.Tensor] = {}
        self.steps = 0

    def add(self, values: Dict[str, torch.Tensor]) -> None:
        for k, v in values.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.steps += 1

    def flush(self) -> Dict[str, float]:
        """Means since the last flush (counts ``*_n`` too: mean participating samples per step)."""
        if not self.steps:
            return {}
        keys = list(self.sums)
        values = torch.stack([self.sums[k] for k in keys]).tolist()
        out = {k: v / self.steps for k, v in zip(keys, values)}
        self.sums, self.steps = {}, 0
        return out


def check_finite(values: Dict[str, float], task: int, iteration: int) -> None:
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        name, value = next(iter(bad.items()))
        raise NonFiniteLossError(
            f"loss '{name}' became {value} in task {task} by iteration {iteration}; "
            "lower trainer.lr or the variant's loss weights"
        )
