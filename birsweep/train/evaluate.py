"""Accuracy of every task seen so far (docs/method.md, Evaluation)."""

from __future__ import annotations

from typing import List, Protocol

import torch


class Classifies(Protocol):
    """A model with ``classify`` (the BI-R network or a plain classifier)."""

    training: bool

    def eval(self) -> object: ...
    def train(self, mode: bool = True) -> object: ...
    def classify(self, x: torch.Tensor) -> torch.Tensor: ...


class Rows(Protocol):
    """Model inputs by row: a feature matrix, or images made into inputs on indexing (birsweep/data/images.py)."""

    @property
    def device(self) -> torch.device: ...
    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor: ...


@torch.no_grad()
def task_accuracies(
    model: Classifies,
    features: Rows,
    labels: torch.Tensor,
    task_indices: List[torch.Tensor],
    n_active: int,
    batch_size: int = 1024,
) -> List[float]:
    """Accuracy on each given task's full test set, argmax over the logits of the first ``n_active`` classes."""
    was_training = model.training
    model.eval()
    correct = []
    for idx in task_indices:
        hits = torch.zeros((), dtype=torch.long, device=features.device)
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            pred = model.classify(features[chunk])[:, :n_active].argmax(1)
            hits += (pred == labels[chunk]).sum()
        correct.append(hits)
    model.train(was_training)
    counts = [len(idx) for idx in task_indices]
    return [c / n for c, n in zip(torch.stack(correct).tolist(), counts)]
