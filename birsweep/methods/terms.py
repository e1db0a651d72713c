"""Base of a variant's extra loss term, and the masked mean every term reduces with."""
from __future__ import annotations

from typing import Dict, List, Tuple

import torch


class Term:
    """A loss term added to the BI-R step for batches with replay.

    ``__call__(batch)`` returns ``(value, count)``: the term's value and how many samples took part (0 when the
    term had nothing to act on this step, in which case the value is exactly 0 and no gradient flows).
    """

    name = "term"
    weight = 1.0
    in_replay = True  # inside L_rep, so scaled by (1 - 1/t), as the fork places its terms

    def param_groups(self) -> List[dict]:
        """Extra optimiser parameter groups (e.g. a projection head with its own learning rate)."""
        return []

    def state_dict(self) -> Dict[str, object]:
        return {}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        pass

    def __call__(self, batch) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``values`` over ``mask`` and the number of samples used, without leaving the device.

    Non-finite values are left out (NaN guard); with nothing left the mean is 0. The values are replaced
    before the reduction, so a NaN in an excluded sample cannot reach the gradient.
    """
    keep = mask & torch.isfinite(values)
    safe = torch.where(keep, values, torch.zeros_like(values))
    count = keep.sum()
    return safe.sum() / count.clamp(min=1), count
