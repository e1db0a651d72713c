"""Proposals a study does not hold yet: a sampler wrapper that seeds each trial's draw from (seed, trial number) and
re-draws a parameter set the study already has.

Why: a sampler seeded once per process replays the same proposals in every new sweep process, so a resumed study,
or two sweeps on one storage, re-evaluated trials 0 and 1. Trial numbers are unique within a study, so a sampler
seeded per trial number draws differently in each of those, while one uninterrupted sweep with a given seed still
makes the same draws on the same history (it stays reproducible). On top of that, before a trial gets its
parameters, the whole set (unconditional and active conditional parameters) is drawn as Optuna's *relative*
parameters and compared with every trial the study holds (any state): a set already there is drawn again, up to
``REDRAWS`` times from the sampler, then uniformly at random. Grid sampling (its own bookkeeping) and enqueued trials
(the user asked for those values) are left as they are. Two sweeps asking in the same instant cannot see each
other's set; their per-trial seeds still differ, so only a small categorical space can collide there.

The base sampler is rebuilt per trial from its config (optuna's samplers keep no history of their own: they read
the study's trials, CMA-ES keeps its state in the study), with the derived seed; only public sampler methods are used.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Callable, Dict, FrozenSet, Optional, Sequence, Tuple

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from birsweep.sweep.search.grammar import SearchSpace

log = logging.getLogger(__name__)

REDRAWS = 20  # draws from the sampler before falling back to uniform random ones
RANDOM_DRAWS = 200
ParamSet = FrozenSet[Tuple[str, str]]


def trial_seed(seed: Optional[int], number: int) -> Optional[int]:
    """The seed of trial ``number``'s draw: a stable hash of both (None stays None: unseeded)."""
    if seed is None:
        return None
    digest = hashlib.blake2b(f"{int(seed)}:{number}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def param_set(params: Dict[str, Any]) -> ParamSet:
    return frozenset((k, repr(v)) for k, v in params.items())


class DistinctSampler(BaseSampler):
    def __init__(self, make: Callable[[Optional[int]], BaseSampler], seed: Optional[int], space: SearchSpace):
        self.make, self.seed, self.space = make, seed, space
        self._per_trial: Dict[int, BaseSampler] = {}
        self.base = make(seed)  # what the sweep names in its log

    def __str__(self) -> str:
        return type(self.base).__name__

    def _for(self, number: int) -> BaseSampler:
        if number not in self._per_trial:
            if len(self._per_trial) > 64:  # a long sweep: forget the oldest trials' samplers
                self._per_trial.pop(min(self._per_trial))
            self._per_trial[number] = self.make(trial_seed(self.seed, number))
        return self._per_trial[number]

    # --- the BaseSampler interface --------------------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> Dict[str, BaseDistribution]:
        if "fixed_params" in trial.system_attrs:  # enqueued: the user's values, independent sampling for the rest
            return {}
        return {**self.space.distributions, **self.space.conditional}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: Dict[str, BaseDistribution]
    ) -> Dict[str, Any]:
        if not search_space:
            return {}
        sampler = self._for(trial.number)
        taken = {param_set(t.params) for t in study.get_trials(deepcopy=False) if t.number != trial.number}
        for _ in range(REDRAWS):
            params = self._draw(sampler, study, trial)
            if param_set(params) not in taken:
                return params
        fallback = RandomSampler(seed=trial_seed(self.seed, -1 - trial.number))
        for _ in range(RANDOM_DRAWS):
            params = self._draw(fallback, study, trial, relative=False)
            if param_set(params) not in taken:
                return params
        log.warning("trial %d: every draw repeats a parameter set the study holds (a small space?)", trial.number)
        return params

    def _draw(self, sampler: BaseSampler, study: Study, trial: FrozenTrial, relative: bool = True) -> Dict[str, Any]:
        """One full parameter set: the sampler's relative part, the other unconditional parameters one by one, then
        the conditional ones whose condition holds."""
        params: Dict[str, Any] = {}
        if relative:
            own = sampler.infer_relative_search_space(study, trial)
            own = {k: d for k, d in own.items() if self.space.distributions.get(k) == d}
            if own:
                params.update(sampler.sample_relative(study, trial, own))
        for key, dist in self.space.distributions.items():
            if key not in params:
                params[key] = sampler.sample_independent(study, trial, key, dist)
        for key, dist in self.space.active(params).items():
            params[key] = sampler.sample_independent(study, trial, key, dist)
        return params

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial.number).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._for(trial.number).before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Optional[Sequence[float]]
    ) -> None:
        self._for(trial.number).after_trial(study, trial, state, values)
        self._per_trial.pop(trial.number, None)

    def reseed_rng(self) -> None:
        for sampler in self._per_trial.values():
            sampler.reseed_rng()


def distinct(
    make: Callable[[Optional[int]], BaseSampler], seed: Optional[int], space: SearchSpace
) -> optuna.samplers.BaseSampler:
    """The sampler a sweep uses: the base one as is for grid and QMC sampling (their sequences hang on one fixed
    seed; the grid never repeats a point, a low-discrepancy sequence hardly does), else a :class:`DistinctSampler`."""
    base = make(seed)
    if isinstance(base, (optuna.samplers.GridSampler, optuna.samplers.QMCSampler)):
        return base
    return DistinctSampler(make, seed, space)
