"""The confirmation stage as the sweeper drives it: checked when the sweep starts, run after the search, summarised
at the end (docs/sweeps.md, Confirmation)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Sequence

import optuna

from birsweep.errors import ConfigError, first_line
from birsweep.sweep.alive.claims import Claims
from birsweep.sweep.alive.owner import Owner
from birsweep.sweep.config import ConfirmConfig, baseline_overrides
from birsweep.sweep.confirm import summary
from birsweep.sweep.confirm.plan import Plan, baseline_key, make_plan, merged
from birsweep.sweep.confirm.runs import Launch, run, scores
from birsweep.sweep.search.grammar import SearchSpace

log = logging.getLogger(__name__)

Compose = Callable[[List[str]], Any]  # a job's config for overrides (Hydra's config loader)


class Stage:
    """The confirmation stage as the sweeper drives it: checked at start, run after the search, summarised."""

    def __init__(
        self,
        settings: ConfirmConfig,
        space: SearchSpace,
        sweep_dir: str,
        extra: Sequence[str],
        beat_s: float = 30.0,
        lost_after_s: float = 600.0,
    ) -> None:
        self.settings, self.space, self.sweep_dir, self.extra = settings, space, sweep_dir, list(extra)
        self.job_seed = 0
        self.key: Optional[str] = None  # the baseline's key (plan.baseline_key), from the composed baseline
        # its claims on runs beat and are judged as trials are: the sweep's heartbeat_interval and grace_period
        self.beat_s, self.lost_after_s = float(beat_s), float(lost_after_s)

    @classmethod
    def create(
        cls,
        settings: ConfirmConfig,
        space: SearchSpace,
        sweep_dir: str,
        extra: Sequence[str],
        compose: Compose,
        beat_s: float = 30.0,
        lost_after_s: float = 600.0,
    ) -> Optional[Stage]:
        """The stage when ``top_k > 0``, else None. Composes a baseline job now, so a baseline that does not make a
        valid run stops the sweep before anything runs (ConfigError); the search's ``seed`` comes from it too."""
        if settings.top_k == 0:
            return None
        stage = cls(settings, space, sweep_dir, extra, beat_s, lost_after_s)
        overrides = merged([*space.fixed, *baseline_overrides(settings.baseline)])
        try:
            cfg = compose(overrides)
            from birsweep.config_check import check_config

            check_config(cfg)
        except Exception as err:  # Hydra's composition errors and ours, as one line
            raise ConfigError(
                f"hydra.sweeper.confirm.baseline={settings.baseline!r} does not make a valid run "
                f"({first_line(err)}): give overrides that turn the search's settings into the baseline"
            ) from None
        composed_seed = compose(list(space.fixed)).seed  # the search's seed (a baseline may set its own)
        stage.job_seed = int(composed_seed)
        stage.key = baseline_key(cfg)
        return stage

    def plan(self, study: optuna.Study) -> Plan:
        return make_plan(self.settings, study, self.space, self.job_seed, self.key)

    def run(self, study: optuna.Study, launch: Launch, slots: int, search_done: bool) -> None:
        if not search_done:
            log.warning("confirmation waits until the search holds its finished trials: run the same command again")
            return
        claims = Claims(Owner.current(), self.beat_s, self.lost_after_s)
        run(self.plan(study), self.sweep_dir, self.space.fixed, self.extra, launch, slots, claims)

    def summary(self, study: optuna.Study, search_done: bool, stopped: Optional[str] = None) -> Dict[str, Any]:
        if stopped:
            return summary.not_run(f"not run: the sweep stopped ({stopped})")
        if not search_done:
            return summary.not_run("the search has not finished: the confirmation runs after it")
        plan = self.plan(study)
        return summary.block(plan, scores(plan, self.sweep_dir))  # test accuracy: higher is better
