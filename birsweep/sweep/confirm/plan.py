"""The plan of the confirmation stage (``hydra.sweeper.confirm``; docs/sweeps.md): after the search, the ``top_k``
best configurations and the baseline run again on the same fresh seeds, scored on the test set.

A search ranks configurations by one run each, on a validation split, with the seed the search used: the winner is
partly luck. Confirmation runs each of the ``top_k`` best distinct complete trials and the baseline (the search's
fixed settings with ``confirm.baseline`` applied last) on ``confirm.seeds`` seeds none of the search's runs used,
so every configuration can be set against the baseline seed by seed (:mod:`birsweep.stats`).

* Seeds: the search's seeds are the job's ``seed`` and any value a trial drew for a searched ``seed``; the fresh
  seeds are the next ``seeds`` whole numbers above the largest of them (seed 0 -> 1, 2, 3): deterministic, so a
  re-run plans the same jobs.
* Jobs are ordinary Hydra jobs through the sweep's launcher, with no Optuna trial and no pruning, in
  ``<sweep dir>/confirm/<arm>/seed_<s>`` (arm ``trial_<n>`` or ``baseline``), each told who it is by
  ``+confirm=run confirm.arm=... confirm.rank=... confirm.params=... confirm.seed=... confirm.baseline=...`` (the
  record's ``confirm``).
* The baseline's key (:func:`baseline_key`) names the baseline's composed config; every job of the stage records
  it, so a report sets each arm against the baseline it was planned with. With ``confirm.baseline_dir`` the
  baseline runs live in ``<baseline_dir>/<key>/seed_<s>``: studies whose baselines compose alike (three variants
  against one BI-R + SI, say) run them once and share them; a baseline that composes otherwise gets its own key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, TrialState

from birsweep.sweep import CONFIRM_GROUP, CONFIRM_OPTION
from birsweep.sweep.config import ConfirmConfig, baseline_overrides
from birsweep.sweep.search.grammar import SearchSpace
from birsweep.sweep.search.override_text import format_value, override_identity

CONFIRM_DIR = "confirm"
BASELINE = "baseline"
SEED_KEY = "seed"
# what a baseline's key leaves out: where its files go and who it is (not what it computes), and the seed
KEY_SKIPS = ("hydra", "paths", "logger", SEED_KEY, CONFIRM_GROUP, "optuna")


def baseline_key(cfg: DictConfig) -> str:
    """A short digest of the baseline's composed config, interpolations unresolved (so the same on any machine),
    without :data:`KEY_SKIPS`."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(plain, dict)
    kept = {k: v for k, v in plain.items() if k not in KEY_SKIPS}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def merged(overrides: Sequence[str]) -> List[str]:
    """Override strings with a later setting of a key replacing an earlier one (at the later one's place)."""
    out: Dict[str, str] = {}
    for text in overrides:
        key = override_identity(text)
        out.pop(key, None)
        out[key] = text
    return list(out.values())


@dataclass(frozen=True)
class Arm:
    """A configuration that is confirmed: a trial of the search (``rank`` 1 = best) or the baseline (rank 0)."""

    name: str  # "trial <n>" or "baseline"
    rank: int
    params: Optional[Dict[str, Any]]  # the trial's searched parameters; None for the baseline
    overrides: List[str]  # what the arm sets on top of the search's fixed settings
    value: Optional[float] = None  # the trial's objective in the search
    home: Optional[str] = None  # the dir of its runs when not <sweep dir>/confirm/<name> (a shared baseline)

    @property
    def dirname(self) -> str:
        return self.name.replace(" ", "_")


@dataclass(frozen=True)
class ConfirmJob:
    arm: Arm
    seed: int

    def run_dir(self, sweep_dir: str) -> str:
        home = self.arm.home or os.path.join(sweep_dir, CONFIRM_DIR, self.arm.dirname)
        return os.path.join(home, f"seed_{self.seed}")

    def subdir(self, sweep_dir: str) -> str:
        """The run dir as Hydra's ``hydra.sweep.subdir`` (relative to the sweep dir, ``..`` for a shared one)."""
        return os.path.relpath(os.path.abspath(self.run_dir(sweep_dir)), os.path.abspath(sweep_dir))

    def overrides(
        self, fixed: Sequence[str], sweep_dir: str, extra: Sequence[str] = (), key: Optional[str] = None
    ) -> List[str]:
        """The job's overrides: fixed settings, the arm's, the seed (a later setting of one key replaces an earlier
        one), then the confirmation's identity (``key``: the baseline's) and run dir."""
        return [
            *merged([*fixed, *self.arm.overrides, *extra, f"{SEED_KEY}={self.seed}"]),
            f"+{CONFIRM_GROUP}={CONFIRM_OPTION}",
            f"{CONFIRM_GROUP}.arm={format_value(self.arm.name)}",
            f"{CONFIRM_GROUP}.rank={self.arm.rank}",
            f"{CONFIRM_GROUP}.params={format_value(self.arm.params)}",
            f"{CONFIRM_GROUP}.seed={self.seed}",
            f"{CONFIRM_GROUP}.baseline={format_value(key)}",
            f"hydra.sweep.subdir={format_value(self.subdir(sweep_dir))}",
        ]


@dataclass
class Plan:
    arms: List[Arm]
    seeds: List[int]
    search_seeds: List[int]
    jobs: List[ConfirmJob] = field(default_factory=list)
    note: Optional[str] = None  # why fewer arms than asked, or why nothing runs
    key: Optional[str] = None  # the baseline's key (baseline_key), recorded by every job

    def __post_init__(self) -> None:
        self.jobs = [ConfirmJob(arm, seed) for arm in self.arms for seed in self.seeds]


def top_trials(study: optuna.Study, k: int) -> List[FrozenTrial]:
    """The ``k`` best complete trials by the search's objective, one per distinct parameter set (ties: lower number
    first)."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    done.sort(key=lambda t: (sign * float(t.value or 0.0), t.number))
    seen: Set[str] = set()
    out: List[FrozenTrial] = []
    for t in done:
        key = repr(sorted(t.params.items()))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out[:k]


def search_seeds(job_seed: int, trials: Sequence[FrozenTrial]) -> List[int]:
    """Every seed a run of the search used: the jobs' ``seed`` and any drawn for a searched ``seed``."""
    seeds = {int(job_seed)}
    seeds |= {int(t.params[SEED_KEY]) for t in trials if SEED_KEY in t.params}
    return sorted(seeds)


def fresh_seeds(used: Sequence[int], n: int) -> List[int]:
    """The ``n`` whole numbers just above the largest used seed."""
    start = max(used) + 1 if used else 0
    return list(range(start, start + n))


def make_plan(
    settings: ConfirmConfig, study: optuna.Study, space: SearchSpace, job_seed: int, key: Optional[str] = None
) -> Plan:
    trials = study.get_trials(deepcopy=False)
    used = search_seeds(job_seed, trials)
    seeds = fresh_seeds(used, int(settings.seeds))
    best = top_trials(study, int(settings.top_k))
    note = None
    if not best:
        return Plan([], seeds, used, note="no complete trial to confirm", key=key)
    if len(best) < settings.top_k:
        note = f"only {len(best)} distinct complete trials to confirm (top_k={settings.top_k})"
    arms = [
        Arm(
            f"trial {t.number}",
            rank,
            dict(t.params),
            [o for o in space.overrides(t.params) if o not in space.fixed],
            float(t.value) if t.value is not None else None,
        )
        for rank, t in enumerate(best, start=1)
    ]
    home = os.path.join(settings.baseline_dir, key or BASELINE) if settings.baseline_dir else None
    arms.append(Arm(BASELINE, 0, None, baseline_overrides(settings.baseline), home=home))
    return Plan(arms, seeds, used, note=note, key=key)
