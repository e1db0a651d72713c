"""Inception score and Frechet distance on an evaluation classifier's outputs (docs/method.md, Generator evaluation).
Upstream uses a CIFAR-100 classifier in place of the Inception network; so do we."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def inception_score(probs: np.ndarray) -> float:
    """exp(mean_i KL(p(y|x_i) || p(y))) with p(y) the mean of the rows of ``probs`` (N x classes, softmax)."""
    p = np.asarray(probs, dtype=np.float64)
    py = p.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(py)), 0.0)  # 0 log 0 = 0, as scipy's entropy
    return float(np.exp(terms.sum(axis=1).mean()))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^1/2) of two sets of embeddings (N x d each).

    The matrix square root is scipy's; its imaginary part (round-off) is dropped, and a non-finite root is retried
    with a small ridge on both covariances, as upstream's fid.py does."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    c_a, c_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # a singular product is handled below, not reported
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(c_a @ c_b)
    if not np.isfinite(root).all():
        ridge = np.eye(len(c_a)) * 1e-6
        root = linalg.sqrtm((c_a + ridge) @ (c_b + ridge))
    root = np.real(root)
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(c_a) + np.trace(c_b) - 2.0 * np.trace(root))
