"""The job's side of ``hydra.sweeper.trials_per_job=K`` (docs/sweeps.md, Many trials per job): the sweep formed
the batch (:mod:`birsweep.sweep.search.batches`) and passed it as ``optuna.batch``; here each of its trials becomes
a run (its config and run dir, ``<sweep dir>/<number>``) and the trained runs become the job's return,
``{number: {state, value, reason}}``. The caller (``birsweep/app.py``) gives each run its callbacks; the training
core trains them, batched when the config allows it (birsweep/train/batched/run.py), else one after another.
"""

from __future__ import annotations

import copy
import logging
import os
from typing import Any, Dict, List, Tuple

from omegaconf import DictConfig, OmegaConf, open_dict

from birsweep.config_check import check_config
from birsweep.errors import RunInterrupted, RunPruned
from birsweep.sweep.search.factory import plain_dict
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.batched.keys import PER_TRIAL_KEYS
from birsweep.train.batched.run import train_batched
from birsweep.train.batched.trial import BatchTrial, not_batchable

log = logging.getLogger(__name__)


def trial_configs(cfg: DictConfig, run_dir: str) -> List[Tuple[DictConfig, str]]:
    """Every trial's config (the job's, with the trial's identity and per-trial values) and run dir."""
    entries = OmegaConf.to_container(cfg.optuna.batch, resolve=True)
    assert isinstance(entries, list)
    own = int(cfg.optuna.trial_number)
    out = []
    for entry in entries:
        number, params = int(entry["number"]), plain_dict(entry["params"], "optuna.batch.params")
        c = copy.deepcopy(cfg)
        with open_dict(c):
            c.optuna.trial_number, c.optuna.params, c.optuna.batch = number, params, None
        for key in PER_TRIAL_KEYS:
            if key in params:
                OmegaConf.update(c, key, params[key], merge=False)
        check_config(c)  # the job checked its own; the others' values are checked the same way
        where = run_dir if number == own else os.path.join(os.path.dirname(os.path.abspath(run_dir)), str(number))
        out.append((c, where))
    return out


def run_batch(cfg: DictConfig, trials: List[BatchTrial]) -> Dict[str, Dict[str, Any]]:
    """Train the job's ``trials`` (from :func:`trial_configs`, with their callbacks); returns
    {number: {state, value, reason}} for the sweeper."""
    why = not_batchable(cfg)
    if why is None:
        log.info("training trials %s as one batch", [int(t.cfg.optuna.trial_number) for t in trials])
        train_batched(trials)
    else:
        log.info(
            "trials %s run one after another in this job: %s", [int(t.cfg.optuna.trial_number) for t in trials], why
        )
        for trial in trials:
            _run_alone(trial)
    result = {}
    for t in trials:
        status = t.status or RunStatus.FAILED
        result[str(int(t.cfg.optuna.trial_number))] = {
            "state": status.trial_state,
            "value": t.objective,
            "reason": t.reason,
        }
        what = f"{100 * t.objective:.2f}%" if t.objective is not None else f"{status.value} ({t.reason})"
        print(f"trial {int(t.cfg.optuna.trial_number)}: {what}  (record: {t.run_dir})")
    return result


def _run_alone(trial: BatchTrial) -> None:
    from birsweep.train.loop.run import train

    try:
        trial.objective = train(trial.cfg, trial.run_dir, trial.callbacks)
        trial.status = RunStatus.COMPLETED
    except RunPruned as err:
        trial.status, trial.reason = RunStatus.PRUNED, str(err)
    except (KeyboardInterrupt, RunInterrupted):
        raise
    except Exception as err:
        trial.status, trial.reason = RunStatus.FAILED, f"{type(err).__name__}: {err}"
