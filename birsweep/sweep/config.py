"""The sweeper's settings, typed: ``hydra.sweeper.*`` for ``hydra/sweeper=optuna``.

:class:`OptunaSweeperConfig` is stored in Hydra's ConfigStore as ``hydra/sweeper/base_optuna`` and
``conf/hydra/sweeper/optuna.yaml`` extends it, so a misspelt key (``hydra.sweeper.n_trails=3``) or a value of the
wrong type fails when the config is composed, with Hydra's message. :func:`check_settings` adds the checks a type
cannot express (ranges and word lists); the sweeper runs it before it opens anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from birsweep.errors import ConfigError

GROUP = "hydra/sweeper"
SCHEMA_NAME = "base_optuna"
DIRECTIONS = ("maximize", "minimize")
DISPATCHES = ("auto", "slots", "batch")


@dataclass
class ConfirmConfig:
    """``hydra.sweeper.confirm``: after the search, the ``top_k`` best configurations and the baseline each run on
    ``seeds`` fresh seeds, scored on the test set (birsweep/sweep/confirm/; docs/sweeps.md)."""

    top_k: int = 0  # best distinct complete trials to confirm; 0 = no confirmation stage
    seeds: int = 3  # fresh seeds (none used by the search) every confirmed configuration and the baseline run on
    baseline: Any = "variant=baseline"  # override string or list of them applied to the search's fixed settings
    # where the baseline runs live, shared by every study whose baseline composes to the same config:
    # <baseline_dir>/<its key>/seed_<s>, run once and read by all (null: <sweep dir>/confirm/baseline/seed_<s>)
    baseline_dir: Optional[str] = None


@dataclass
class OptunaSweeperConfig:
    _target_: str = "hydra_plugins.birsweep_optuna_sweeper.OptunaSweeper"
    _recursive_: bool = False  # the sweeper builds sampler and pruner itself and passes the pruner's config to jobs

    direction: str = "maximize"  # maximize | minimize the job's return value (final average accuracy)
    study_name: Optional[str] = None  # a re-run with the same study_name and storage resumes the study
    # null = SQLite file optuna.db in the sweep dir | database URL (sqlite:////abs/x.db, postgresql://user@host/db) |
    # journal file: a path ending in .log (NFS-safe). Keep passwords out: storage: ${oc.env:STUDY_DB}
    storage: Optional[str] = None
    n_trials: int = 20  # finished trials (complete + pruned + failed) the study should hold
    n_jobs: int = 1  # jobs in flight (hydra/launcher=joblib or submitit_* run them side by side)
    trials_per_job: int = 1  # trials one job trains in one process, batched when they differ only in per-trial values
    max_failure_rate: float = 0.5  # stop once more than this fraction of this run's trials failed (judged after 4)
    retry_failed: bool = False  # queue trials left RUNNING by a killed sweep again, with the same parameters
    dispatch: str = "auto"  # auto: slots for joblib/submitit, one by one for basic | slots | batch
    job_threads: Any = "auto"  # torch threads per job: auto = 1 with joblib/submitit_local | null | N
    heartbeat_interval: float = 30.0  # s between "still running" marks on the trials in flight
    grace_period: float = 600.0  # s without a heartbeat after which another machine's RUNNING trial counts as dead
    # (and after which a job stops at its next task end: its sweep is gone)
    # SLURM launchers only (their jobs beat; null = 300): s without a sign of life from a job before its trial is FAIL
    job_lost_after: Optional[float] = None
    dashboard_hint: bool = True  # print the optuna-dashboard command with the summary
    sampler: Any = None  # _target_ config of an optuna sampler (hydra/sweeper/sampler=...); null = TPE
    pruner: Any = None  # _target_ config of an optuna pruner (hydra/sweeper/pruner=...); null = never prune
    # search space in Hydra's override grammar: interval(a,b), int(interval(a,b)), tag(log, interval(a,b)),
    # range(a,b,step) (end excluded, as in Hydra), choice(a,b,...); a plain value stays fixed
    params: Optional[Dict[str, Any]] = None
    confirm: ConfirmConfig = field(default_factory=ConfirmConfig)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(s: OptunaSweeperConfig) -> None:
    """ConfigError naming the first setting out of range; the types were checked when the config was composed."""
    if str(s.direction).lower() not in DIRECTIONS:
        raise ConfigError(f"hydra.sweeper.direction={s.direction!r} is not one of {', '.join(DIRECTIONS)}")
    if not s.study_name or not str(s.study_name).strip():
        raise ConfigError("hydra.sweeper.study_name is empty: name the study (it is how a re-run resumes it)")
    for key, value in (("n_trials", s.n_trials), ("n_jobs", s.n_jobs), ("trials_per_job", s.trials_per_job)):
        if not _whole(value) or value < 1:
            raise ConfigError(f"hydra.sweeper.{key}={value!r} must be a whole number of at least 1")
    if not 0.0 <= float(s.max_failure_rate) <= 1.0:
        raise ConfigError(f"hydra.sweeper.max_failure_rate={s.max_failure_rate} is out of range [0, 1]")
    if s.dispatch not in DISPATCHES:
        raise ConfigError(f"hydra.sweeper.dispatch={s.dispatch!r} is not one of {', '.join(DISPATCHES)}")
    jt = s.job_threads
    if not (jt is None or jt == "auto" or (_whole(jt) and jt >= 1)):
        raise ConfigError(f"hydra.sweeper.job_threads={jt!r} must be auto, null or a number of at least 1")
    if float(s.heartbeat_interval) <= 0 or float(s.grace_period) <= float(s.heartbeat_interval):
        raise ConfigError("hydra.sweeper.grace_period must be longer than heartbeat_interval (both > 0)")
    if s.job_lost_after is not None and float(s.job_lost_after) <= float(s.heartbeat_interval):
        raise ConfigError(
            f"hydra.sweeper.job_lost_after={s.job_lost_after} must be longer than "
            f"heartbeat_interval={s.heartbeat_interval} (jobs beat that often)"
        )
    check_confirm(confirm_config(s.confirm))


def confirm_config(value: Any) -> ConfirmConfig:
    """The ``confirm`` setting as a ConfirmConfig (Hydra hands the sweeper a config node, tests a dict or None)."""
    if isinstance(value, ConfirmConfig):
        return value
    if value is None:
        return ConfirmConfig()
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else dict(value)
    assert isinstance(plain, dict)
    return ConfirmConfig(**{str(k): v for k, v in plain.items()})


def baseline_overrides(value: Any) -> List[str]:
    """``confirm.baseline`` as a list of override strings (one string or a list of them)."""
    return [value] if isinstance(value, str) else [str(v) for v in value]


def check_confirm(c: ConfirmConfig) -> None:
    for key, value, low in (("top_k", c.top_k, 0), ("seeds", c.seeds, 1)):
        if not _whole(value) or value < low:
            raise ConfigError(f"hydra.sweeper.confirm.{key}={value!r} must be a whole number of at least {low}")
    items = [c.baseline] if isinstance(c.baseline, str) else c.baseline
    if not isinstance(items, (list, tuple)) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(
            f"hydra.sweeper.confirm.baseline={c.baseline!r} must be an override string or a list of them, "
            'e.g. "variant=baseline"'
        )
    from birsweep.sweep.search.override_text import parse_override  # Hydra's override parser, with one-line errors

    for text in items:
        try:
            searched = parse_override(text).is_sweep_override()
        except ConfigError as err:
            searched, why = False, str(err)
        else:
            why = "a search, not a value" if searched else ""
        if why:
            raise ConfigError(
                f"hydra.sweeper.confirm.baseline: {text!r} is not a fixed override ({why}); "
                'give key=value strings, e.g. "variant=baseline"'
            )
