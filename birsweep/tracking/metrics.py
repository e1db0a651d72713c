"""Continual-learning summary metrics from the accuracy matrix (row t = after task t, column k = task k)."""

from __future__ import annotations

from typing import List, Optional

Matrix = List[List[Optional[float]]]


def _acc(matrix: Matrix, t: int, k: int) -> float:
    """Accuracy on task k after task t; measured for every k <= t (later columns are None: not seen yet)."""
    value = matrix[t][k]
    if value is None:
        raise ValueError(f"the accuracy matrix has no accuracy on task {k + 1} after task {t + 1}")
    return value


def average_accuracy(matrix: Matrix) -> List[float]:
    """Average accuracy over the tasks seen after each task."""
    return [sum(_acc(matrix, t, k) for k in range(t + 1)) / (t + 1) for t in range(len(matrix))]


def forgetting(matrix: Matrix) -> Optional[float]:
    """Mean over old tasks of (best accuracy before the last task) - (final accuracy) (Chaudhry et al. 2018)."""
    T = len(matrix)
    if T < 2:
        return None
    drops = [max(_acc(matrix, t, k) for t in range(k, T - 1)) - _acc(matrix, T - 1, k) for k in range(T - 1)]
    return sum(drops) / len(drops)


def backward_transfer(matrix: Matrix) -> Optional[float]:
    """Mean over old tasks of (final accuracy) - (accuracy right after learning it) (Lopez-Paz & Ranzato 2017)."""
    T = len(matrix)
    if T < 2:
        return None
    return sum(_acc(matrix, T - 1, k) - _acc(matrix, k, k) for k in range(T - 1)) / (T - 1)
