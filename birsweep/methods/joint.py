"""Joint training, the upper bound (upstream ``--replay=offline``; docs/method.md, Methods: Joint): while task t is
trained, batches are drawn from the training data of all tasks 1..t together."""

from __future__ import annotations

from typing import Sequence

import torch


def seen_indices(train_idx: Sequence[torch.Tensor], task: int) -> torch.Tensor:
    """The training indices of tasks 0..``task`` (0-based) as one pool."""
    return torch.cat(list(train_idx[: task + 1]))
