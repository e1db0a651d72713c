"""Builds the extra loss terms the selected variant enables (none for the baseline)."""
from __future__ import annotations

from typing import List

import torch
from omegaconf import DictConfig

from birsweep.models.bir import BIRNet


def build_terms(variant: DictConfig, model: BIRNet, inputs, device: torch.device) -> List:
    return []
