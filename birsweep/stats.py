"""Seed statistics for comparing configurations: mean ± sd / s.e.m., and the difference to a baseline paired by seed
with its Student-t confidence interval and the paired t-test's p-value (docs/analysis.md, "Against a baseline").

One implementation for the sweeper's confirmation summary and for ``analysis.compare(runs, baseline=...)``, so both
give the same numbers. Nothing is invented: with fewer than two pairs, or pairs without spread, the interval and
p-value are NaN and ``note`` says why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

LEVEL = 0.95  # the confidence level of every interval shown
NAN = float("nan")


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation (n - 1) and standard error of the mean of ``n`` values (NaN where undefined)."""

    n: int
    mean: float
    sd: float
    sem: float


def spread(values: Iterable[float]) -> Spread:
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return Spread(0, NAN, NAN, NAN)
    mean = math.fsum(xs) / n
    if n < 2:
        return Spread(1, mean, NAN, NAN)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    return Spread(n, mean, sd, sd / math.sqrt(n))


@dataclass(frozen=True)
class Paired:
    """A configuration minus the baseline, seed by seed: ``delta`` is the mean of the per-seed differences over the
    ``n`` seeds both have; ``low``/``high`` its ``LEVEL`` interval (Student t, n - 1 degrees of freedom), ``p`` the
    two-sided paired t-test's p-value; ``note`` explains a NaN or seeds left out."""

    n: int
    delta: float
    sd: float
    low: float
    high: float
    p: float
    seeds: List[Any]
    note: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def t_interval_p(diffs: List[float], level: float = LEVEL) -> Paired:
    """The paired statistics of the differences ``diffs`` (seeds not attached)."""
    from scipy import stats as sps  # scikit-learn's dependency: always installed with birsweep

    s = spread(diffs)
    if s.n == 0:
        return Paired(0, NAN, NAN, NAN, NAN, NAN, [], "no seed run by both")
    if s.n < 2:
        return Paired(1, s.mean, NAN, NAN, NAN, NAN, [], "one paired seed: no interval or p-value without a spread")
    if s.sd == 0.0:
        note = f"all {s.n} paired differences are {s.mean:+.6g}: no spread, so no t interval or p-value"
        return Paired(s.n, s.mean, 0.0, NAN, NAN, NAN, [], note)
    half = float(sps.t.ppf(0.5 + level / 2, s.n - 1)) * s.sem
    t = s.mean / s.sem
    p = float(2.0 * sps.t.sf(abs(t), s.n - 1))
    return Paired(s.n, s.mean, s.sd, s.mean - half, s.mean + half, p, [])


def paired(arm: Mapping[Any, float], baseline: Mapping[Any, float], level: float = LEVEL) -> Paired:
    """``arm`` minus ``baseline`` over the seeds (dict keys) both have a value for."""
    common = sorted(k for k in arm if k in baseline and _ok(arm[k]) and _ok(baseline[k]))
    result = t_interval_p([float(arm[k]) - float(baseline[k]) for k in common], level)
    unpaired = sorted(set(k for k in arm if _ok(arm[k])) ^ set(k for k in baseline if _ok(baseline[k])))
    note = result.note
    if unpaired:
        note = "; ".join(filter(None, [note, f"seeds without a pair left out: {', '.join(map(str, unpaired))}"]))
    return Paired(result.n, result.delta, result.sd, result.low, result.high, result.p, common, note)


def _ok(value: Optional[float]) -> bool:
    return value is not None and not math.isnan(float(value))


def verdict(p: Paired, higher_is_better: bool = True) -> str:
    """``beats``, ``does not beat`` or ``cannot tell``: whether the whole interval lies on the better side of 0,
    the worse side (or every seed gave exactly the baseline's value), or neither (too few seeds included)."""
    if p.n >= 2 and p.sd == 0.0 and p.delta == 0.0:
        return "does not beat"  # identical on every seed
    if math.isnan(p.low) or math.isnan(p.high):
        return "cannot tell"
    low, high = (p.low, p.high) if higher_is_better else (-p.high, -p.low)
    if low > 0:
        return "beats"
    if high < 0:
        return "does not beat"
    return "cannot tell"


def holm(ps: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values for a family of comparisons, in the given order. A NaN p (no test) stays
    NaN and does not count as a comparison."""
    valid = sorted((float(v), i) for i, v in enumerate(ps) if _ok(v))
    out = [NAN] * len(ps)
    running, m = 0.0, len(valid)
    for rank, (value, i) in enumerate(valid):
        running = max(running, min(1.0, (m - rank) * value))  # monotone: never below a smaller p's adjusted value
        out[i] = running
    return out


def family_verdict(p: Paired, p_adjusted: float, higher_is_better: bool = True) -> str:
    """:func:`verdict` for one of several comparisons against one baseline: ``beats`` / ``does not beat`` only
    where the Holm-adjusted p is below 1 - LEVEL (the family's error rate held at 5 %), on Δ's side of 0."""
    if p.n >= 2 and p.sd == 0.0 and p.delta == 0.0:
        return "does not beat"
    if not _ok(p_adjusted) or p_adjusted >= 1 - LEVEL:
        return "cannot tell"
    better = p.delta > 0 if higher_is_better else p.delta < 0
    return "beats" if better else "does not beat"


def sentence(
    name: str,
    p: Paired,
    unit: float = 100.0,
    what: str = "points",
    higher_is_better: bool = True,
    word: Optional[str] = None,
) -> str:
    """One line answering "does ``name`` beat the baseline?": the verdict (``word``: one already reached, e.g. a
    family's), Δ in ``what`` with its interval and p, and the number of seeds (values scaled by ``unit``, e.g.
    accuracies to points)."""
    word = word or verdict(p, higher_is_better)
    if p.n == 0:
        return f"{name} vs the baseline: cannot tell, no seed was run by both"
    ci = "no interval" if math.isnan(p.low) else f"{100 * LEVEL:.0f}% CI [{unit * p.low:+.2f}, {unit * p.high:+.2f}]"
    pv = "p n/a" if math.isnan(p.p) else f"p={p.p:.3g}"
    seeds = f"{p.n} seed{'s' if p.n != 1 else ''}"
    head = f"{name} vs the baseline: cannot tell," if word == "cannot tell" else f"{name} {word} the baseline:"
    return f"{head} Δ {unit * p.delta:+.2f} {what} ({ci}, {pv}, {seeds})" + (f"; {p.note}" if p.note else "")
