"""How many samples each loss term acted on: summed on the device step by step, read once per task end.

The step returns every term's count as ``<name>_n`` (docs/variants.md); a term whose total stays 0 never changed
the training (its value was exactly 0, no gradient), so a run with only such terms trained as the baseline does.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import torch


class Participation:
    """Exact per-term totals of participating samples for the task under way (int64 on the device)."""

    def __init__(self, names: Sequence[str], device: torch.device):
        self.names = list(names)
        self.device = device
        self._sums = self._zeros()

    def _zeros(self) -> Dict[str, torch.Tensor]:
        return {name: torch.zeros((), dtype=torch.long, device=self.device) for name in self.names}

    def add(self, logs: Mapping[str, torch.Tensor]) -> None:
        """Add one step's counts (absent in steps without replay, e.g. the first task); no host sync."""
        for name, total in self._sums.items():
            count = logs.get(name + "_n")
            if count is not None:
                total += count.detach().to(torch.long)

    def take(self) -> Dict[str, int]:
        """The task's totals, in one host read, and start the next task from 0."""
        if not self.names:
            return {}
        values = torch.stack([self._sums[n] for n in self.names]).tolist()
        self._sums = self._zeros()
        return dict(zip(self.names, (int(v) for v in values)))
