"""Figures shared by the W&B logger and the analysis report: accuracy-matrix heatmaps, replay image grids and
class-prior statistics. Object-oriented matplotlib only (no pyplot): no global state, any backend.
"""

from __future__ import annotations

import io
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

Matrix = Sequence[Sequence[Optional[float]]]


def as_array(matrix: Matrix) -> np.ndarray:
    """Accuracy matrix (None for tasks not seen yet) as floats with NaN holes."""
    return np.array([[np.nan if a is None else float(a) for a in row] for row in matrix], dtype=float)


def accuracy_heatmap(
    matrix: Matrix, title: Optional[str] = None, ax=None, annotate: Optional[bool] = None, colorbar: bool = True
) -> Figure:
    """Heatmap of accuracies in %: row t = after training task t, column k = evaluated on task k."""
    acc = 100 * as_array(matrix)
    fig = (
        ax.figure
        if ax is not None
        else Figure(figsize=(1.0 + 0.55 * max(acc.shape[1], 4), 0.8 + 0.5 * max(acc.shape[0], 3)))
    )
    ax = ax if ax is not None else fig.add_subplot()
    img = ax.imshow(np.ma.masked_invalid(acc), vmin=0, vmax=100, cmap="viridis", aspect="auto")
    n_rows, n_cols = acc.shape
    ax.set_xticks(range(n_cols), [str(k + 1) for k in range(n_cols)])
    ax.set_yticks(range(n_rows), [str(t + 1) for t in range(n_rows)])
    ax.set_xlabel("evaluated on task")
    ax.set_ylabel("after training task")
    if title:
        ax.set_title(title, fontsize=9)
    if annotate is None:
        annotate = n_cols <= 12
    if annotate:
        for t in range(n_rows):
            for k in range(n_cols):
                if not np.isnan(acc[t, k]):
                    ax.text(
                        k,
                        t,
                        f"{acc[t, k]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if acc[t, k] < 60 else "black",
                    )
    if colorbar:
        fig.colorbar(img, ax=ax, label="accuracy (%)", fraction=0.05)
    return fig


def figure_rgb(fig: Figure, dpi: int = 100) -> np.ndarray:
    """Render a figure to an H x W x 3 uint8 array."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def image_grid(images: np.ndarray, pad: int = 1, min_size: int = 28) -> np.ndarray:
    """Rows x cols x C x H x W images in [0, 1] -> one H' x W' (x 3) uint8 grid; small images are enlarged
    (nearest neighbour) so an 8x8 digit stays readable."""
    rows, cols, channels, h, w = images.shape
    scale = max(1, int(np.ceil(min_size / max(h, w))))
    img = np.clip(images, 0.0, 1.0)
    if scale > 1:
        img = img.repeat(scale, axis=3).repeat(scale, axis=4)
        h, w = h * scale, w * scale
    grid = np.ones((channels, rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            grid[:, top : top + h, left : left + w] = img[r, c]
    grid = (255 * grid).round().astype(np.uint8)
    return grid[0] if channels == 1 else np.moveaxis(grid, 0, -1)


def prior_statistics(mu: np.ndarray, logvar: np.ndarray, labels: Sequence[str], title: str = "") -> Figure:
    """Class-conditional latent prior (one Gaussian mode per class): 2-D PCA of the modes' means with their
    average standard deviation as circles, and the pairwise distances between the modes' means."""
    n = len(labels)
    std = np.exp(0.5 * logvar).mean(axis=1)
    centred = mu - mu.mean(axis=0, keepdims=True)
    if n >= 2:
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        xy = centred @ vt[:2].T
        if xy.shape[1] == 1:
            xy = np.concatenate([xy, np.zeros_like(xy)], axis=1)
    else:
        xy = np.zeros((n, 2))
    dist = np.sqrt(((mu[:, None, :] - mu[None, :, :]) ** 2).sum(-1))

    fig = Figure(figsize=(10, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.scatter(xy[:, 0], xy[:, 1], s=12, c=np.arange(n), cmap="tab20")
    for i in range(n):
        ax1.add_patch(_circle(xy[i], std[i]))
        if n <= 30:
            ax1.annotate(labels[i], xy[i], fontsize=7, ha="center", va="bottom")
    ax1.set_aspect("equal", adjustable="datalim")
    ax1.set_title("prior means (PCA), circle = mean std", fontsize=9)
    img = ax2.imshow(dist, cmap="magma")
    ticks = range(n) if n <= 30 else range(0, n, max(1, n // 10))
    ax2.set_xticks(list(ticks), [labels[i] for i in ticks], fontsize=6, rotation=90)
    ax2.set_yticks(list(ticks), [labels[i] for i in ticks], fontsize=6)
    ax2.set_title("distance between class prior means", fontsize=9)
    fig.colorbar(img, ax=ax2, fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _circle(centre, radius):
    from matplotlib.patches import Circle

    return Circle(tuple(centre), float(radius), fill=False, alpha=0.4, linewidth=0.8)
