"""Continual-learning summary metrics from the accuracy matrix (row t = after task t, column k = task k)."""

from __future__ import annotations

from typing import List, Optional

Matrix = List[List[Optional[float]]]


def average_accuracy(matrix: Matrix) -> List[float]:
    """Average accuracy over the tasks seen after each task."""
    return [sum(row[: t + 1]) / (t + 1) for t, row in enumerate(matrix)]


def forgetting(matrix: Matrix) -> Optional[float]:
    """Mean over old tasks of (best accuracy before the last task) - (final accuracy) (Chaudhry et al. 2018)."""
    T = len(matrix)
    if T < 2:
        return None
    drops = [max(matrix[t][k] for t in range(k, T - 1)) - matrix[T - 1][k] for k in range(T - 1)]
    return sum(drops) / len(drops)


def backward_transfer(matrix: Matrix) -> Optional[float]:
    """Mean over old tasks of (final accuracy) - (accuracy right after learning it) (Lopez-Paz & Ranzato 2017)."""
    T = len(matrix)
    if T < 2:
        return None
    return sum(matrix[T - 1][k] - matrix[k][k] for k in range(T - 1)) / (T - 1)
