"""Axis ranges fitted to the data and legends kept off it, so that 90.8 % and 92.2 % look different."""

from __future__ import annotations

from typing import Iterable, Optional, Tuple

import numpy as np

PERCENT = (0.0, 100.0)


def fitted_limits(
    low: Iterable[float],
    high: Optional[Iterable[float]] = None,
    bounds: Tuple[Optional[float], Optional[float]] = (None, None),
    margin: float = 0.12,
    min_span: float = 1.0,
) -> Tuple[float, float]:
    """An axis range around the values (``low`` to ``high``, e.g. mean - err and mean + err) with a margin of
    ``margin`` times their spread on each side, at least ``min_span`` wide (one value alone still gets a
    readable range); values are cut to ``bounds`` (e.g. 0–100 for accuracies) before the margin is added."""
    lows = np.asarray(list(low), dtype=float)
    highs = np.asarray(list(high), dtype=float) if high is not None else lows
    finite = np.concatenate([lows[np.isfinite(lows)], highs[np.isfinite(highs)]])
    if not finite.size:
        lo_b, hi_b = bounds
        return (0.0 if lo_b is None else lo_b, 1.0 if hi_b is None else hi_b)
    lo, hi = float(finite.min()), float(finite.max())
    lo_b, hi_b = bounds
    if hi - lo < min_span:
        mid = (lo + hi) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    # an error bar past a bound (e.g. 100 % + s.e.m.) is cut there; the margin may cross it, so that a point on
    # the bound is drawn whole
    lo = lo if lo_b is None else max(lo, lo_b)
    hi = hi if hi_b is None else min(hi, hi_b)
    pad = margin * (hi - lo)
    return lo - pad, hi + pad


def legend_below(ax, ncol: int = 2, fontsize: float = 7) -> None:
    """The legend under the axes (``tight_layout`` then makes room for it), never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncol=max(1, min(ncol, len(handles))),
            fontsize=fontsize,
            frameon=False,
        )


def legend_right(ax, fontsize: float = 7) -> None:
    """The legend to the right of the axes, never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=fontsize, frameon=False)
