"""What a variant's extra loss term sees (:class:`ReplayBatch`), what it must provide (:class:`LossTerm`), and the
masked means every term reduces with."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple

import torch

from birsweep.models.bir import BIRNet, Forward


@dataclass
class ReplayBatch:
    """What the extra loss terms of a variant see in a step with replay."""

    x: torch.Tensor  # replayed inputs (features or pixels)
    scores: torch.Tensor  # previous model's logits over the old classes
    pi: torch.Tensor  # softmax(scores / T) zero-padded to the active classes
    out: Forward  # current model's pass over the replayed inputs
    model: BIRNet
    current_x: torch.Tensor
    current_y: torch.Tensor
    current_idx: Optional[torch.Tensor]  # indices of the current samples in the training set (for image views)
    n_active: int
    keys: Optional[torch.Tensor] = None  # uniform keys, one per replayed sample, from the run's term generator
    cache: Dict[str, Any] = field(default_factory=dict)  # shared work between terms (competitor selection)


class LossTerm(ABC):
    """A loss term added to the BI-R step for batches with replay.

    ``__call__(batch)`` returns ``(value, count)``: the term's value and how many samples took part (0 when the
    term had nothing to act on this step, in which case the value is exactly 0 and no gradient flows). Both stay
    on the device. The step logs them as ``<name>`` and ``<name>_n``.
    """

    name: str = "term"
    weight: float = 1.0
    in_replay: bool = True  # True: inside L_rep, so scaled by (1 - 1/t), as the fork places its terms
    needs_keys: bool = False  # draws ReplayBatch.keys (birsweep/methods/term_noise.py), not the global RNG
    # attribute -> config key of the values a batched job may give each trial (birsweep/train/batched/terms.py);
    # the term's arithmetic must take them as floats or as 0-dim tensors alike
    per_trial: ClassVar[Mapping[str, str]] = {}

    def param_groups(self) -> List[Dict[str, Any]]:
        """Extra optimiser parameter groups (e.g. a projection head with its own learning rate)."""
        return []

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:  # noqa: B027  (a stateless term loads nothing)
        pass

    @abstractmethod
    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]: ...


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
