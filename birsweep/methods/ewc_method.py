"""Offline EWC (upstream ``--ewc``; docs/method.md, Methods: EWC) on a plain classifier: after each task the diagonal
Fisher of (up to ``fisher_n``) of its training samples joins the penalty (birsweep/methods/ewc.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch

from birsweep.declare import bounded
from birsweep.methods.classifier_method import ClassifierParts
from birsweep.methods.ewc import OfflineEWC, fisher_diagonal
from birsweep.methods.method_api import Built, MethodHooks, Toolkit
from birsweep.methods.method_registry import MethodSpec, register_method
from birsweep.models.classifier import Classifier


@dataclass
class EWCConfig:
    ewc_lambda: float = bounded(0.0, 0.0)  # offline EWC strength; 0 = off (ewc.yaml sets the protocol's tuned value)
    fisher_n: Optional[int] = bounded(1000, 1)  # samples per task for the Fisher; null = all


class EWCHooks(MethodHooks):
    def __init__(self, model: Classifier, train: Any, train_idx: List[torch.Tensor], ewc: Any, n: Any):
        self.model, self.train, self.train_idx, self.ewc, self.fisher_n = model, train, train_idx, ewc, n

    def end_task(self, task: int, n_active: int) -> None:
        if self.ewc is None:
            return
        idx = self.train_idx[task]
        if self.fisher_n is not None and self.fisher_n < len(idx):  # a random subset, as upstream's shuffled loader
            idx = idx[torch.randperm(len(idx), device=idx.device)[: self.fisher_n]]
        self.ewc.consolidate(fisher_diagonal(self.model, self.train[idx], n_active))

    def state_dict(self) -> Dict[str, Any]:
        return {} if self.ewc is None else {"ewc": self.ewc.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if self.ewc is not None:
            self.ewc.load_state_dict(state["ewc"])


def build(tk: Toolkit) -> Built:
    meth = tk.cfg.method
    parts = ClassifierParts(tk, ewc_lambda=float(meth.ewc_lambda))
    ewc: Optional[OfflineEWC] = parts.ewc
    return parts.built(EWCHooks(parts.model, tk.inputs.train, tk.train_idx, ewc, meth.fisher_n))


register_method(MethodSpec("ewc", "EWC", EWCConfig, build, order=30))
