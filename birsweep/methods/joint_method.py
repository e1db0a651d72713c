"""Joint training, the upper bound (upstream ``--replay=offline``; docs/method.md, Methods: Joint): a plain
classifier trained on task t with batches drawn from the training data of tasks 1..t together."""

from __future__ import annotations

from typing import List

import torch

from birsweep.methods.classifier_method import ClassifierParts
from birsweep.methods.joint import seen_indices
from birsweep.methods.method_api import Built, MethodHooks, NoKeys, Toolkit
from birsweep.methods.method_registry import MethodSpec, register_method


class JointHooks(MethodHooks):
    def train_indices(self, task: int, train_idx: List[torch.Tensor]) -> torch.Tensor:
        return seen_indices(train_idx, task)


def build(tk: Toolkit) -> Built:
    return ClassifierParts(tk).built(JointHooks())


register_method(MethodSpec("joint", "Joint", NoKeys, build, order=100))
