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

    Non-finite values are left out (NaN guard); with nothing left the mean is 0. Excluded entries get a zero
    gradient; for that to stay finite the values must be finite functions of their inputs there too (see
    :func:`inverse_mean`).
    """
    keep = mask & torch.isfinite(values)
    safe = torch.where(keep, values, torch.zeros_like(values))
    count = keep.sum()
    return safe.sum() / count.clamp(min=1), count


def inverse_mean(distance: torch.Tensor, mask: torch.Tensor, eps: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean of 1 / (distance + eps) over ``mask``: the repulsion terms' inverse.

    Excluded or non-finite distances are replaced by 1 before the inverse (so e.g. a zero distance of a sample
    without competitor cannot put inf * 0 = NaN into the gradient), and distances are floored at 0 (a divergence
    can come out a hair below 0 in float32).
    """
    keep = mask & torch.isfinite(distance)
    safe = torch.where(keep, distance.clamp_min(0.0), torch.ones_like(distance))
    return masked_mean(1.0 / (safe + eps), keep)
