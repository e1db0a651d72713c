"""Precision and recall for distributions (Sajjadi et al. 2018, "Assessing generative models via precision and
recall"), as upstream's eval/precision_recall.py runs it: both sets of embeddings are clustered together
(MiniBatchKMeans, 20 clusters), the two cluster histograms give one PRD curve over 1001 angles, and the curves of 10
clusterings are averaged."""

from __future__ import annotations

from typing import Tuple

import numpy as np


def prd_curve(eval_dist: np.ndarray, ref_dist: np.ndarray, num_angles: int = 1001) -> Tuple[np.ndarray, np.ndarray]:
    """(precision, recall) of histogram ``eval_dist`` against ``ref_dist`` at slopes tan(angle), angle in (0, pi/2):
    precision(l) = sum_bins min(l * ref, eval), recall(l) = precision(l) / l, both clipped to [0, 1]."""
    eps = 1e-10
    slopes = np.tan(np.linspace(eps, np.pi / 2 - eps, num_angles))[:, None]
    precision = np.minimum(ref_dist[None] * slopes, eval_dist[None]).sum(axis=1)
    recall = precision / slopes[:, 0]
    return np.clip(precision, 0, 1), np.clip(recall, 0, 1)


def cluster_histograms(
    eval_data: np.ndarray, ref_data: np.ndarray, num_clusters: int, seed: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Histograms of the two sets over the clusters of their union (each normalised to sum 1)."""
    data = np.concatenate([eval_data, ref_data])
    from sklearn.cluster import MiniBatchKMeans  # here: scikit-learn's import costs every run's start seconds

    labels = MiniBatchKMeans(n_clusters=num_clusters, n_init=10, random_state=seed).fit(data).labels_
    e = np.bincount(labels[: len(eval_data)], minlength=num_clusters).astype(np.float64)
    r = np.bincount(labels[len(eval_data) :], minlength=num_clusters).astype(np.float64)
    return e / e.sum(), r / r.sum()


def prd_from_embeddings(
    eval_data: np.ndarray,
    ref_data: np.ndarray,
    num_clusters: int = 20,
    num_angles: int = 1001,
    num_runs: int = 10,
    seed: int = 0,
) -> Tuple[np.ndarray, np.ndarray]:
    """Mean (precision, recall) curves of generated ``eval_data`` against real ``ref_data`` over ``num_runs``
    clusterings; the two sets must be of equal size (upstream's enforce_balance)."""
    if len(eval_data) != len(ref_data):
        raise ValueError(
            f"precision-recall needs as many generated as real samples ({len(eval_data)} vs {len(ref_data)})"
        )
    curves = [
        prd_curve(*cluster_histograms(eval_data, ref_data, num_clusters, seed + run), num_angles)
        for run in range(num_runs)
    ]
    return np.mean([c[0] for c in curves], axis=0), np.mean([c[1] for c in curves], axis=0)
