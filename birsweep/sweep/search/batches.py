"""Both sides of ``hydra.sweeper.trials_per_job=K`` (docs/sweeps.md, Many trials per job).

Sweeper side: :func:`group` splits the trials asked for one job into jobs whose trials differ only in
:data:`~birsweep.train.batch_keys.PER_TRIAL_KEYS`; :func:`job_overrides` gives a job of several trials the first
trial's overrides plus ``optuna.batch`` (every trial's number and parameters); :func:`outcomes_of` reads the job's
return, one outcome per trial. Job side: :func:`run_batch` trains the batch in this process, batched when the
config allows it (birsweep/train/batched.py), else one trial after another, each trial in ``<sweep dir>/<number>``.
"""

from __future__ import annotations

import copy
import logging
import math
import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

from omegaconf import DictConfig, OmegaConf, open_dict
from optuna.trial import TrialState

from birsweep.config_check import check_config
from birsweep.errors import RunInterrupted, RunPruned
from birsweep.sweep import TRIAL_GROUP
from birsweep.sweep.factory import plain_dict
from birsweep.sweep.grammar import format_value
from birsweep.sweep.outcome import Outcome, outcome_of
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.batch_keys import PER_TRIAL_KEYS, structural_part
from birsweep.train.callbacks import RunCallback

log = logging.getLogger(__name__)

Asked = Tuple[int, Dict[str, Any], List[str]]  # trial number, sampled parameters, the job's overrides
Job = Tuple[List[int], List[str]]  # the trials a job trains, its overrides


# --- sweeper side ---------------------------------------------------------------------------------------------------
def group(asked: Sequence[Asked]) -> List[Job]:
    """One job per set of trials that may share a batch, in the order asked; a lone trial's job is as with K=1."""
    groups: Dict[Tuple[str, ...], List[Asked]] = {}  # insertion-ordered
    for item in asked:
        groups.setdefault(structural_part(item[1]), []).append(item)
    return [([n for n, _, _ in items], job_overrides(items)) for items in groups.values()]


def job_overrides(items: Sequence[Asked]) -> List[str]:
    first = list(items[0][2])
    if len(items) == 1:
        return first
    batch = [{"number": n, "params": params} for n, params, _ in items]
    return first + [f"{TRIAL_GROUP}.batch={format_value(batch)}"]


def outcomes_of(ret: Any, numbers: Sequence[int]) -> Dict[int, Outcome]:
    """Each trial's outcome from a job's return: a batch job returns {number: {state, value, reason}}; a job that
    raised (or a lone trial's job) gives every trial the job's outcome."""
    value = getattr(ret, "_return_value", None)
    if len(numbers) > 1 and isinstance(value, dict):
        out = {}
        for n in numbers:
            got: Dict[str, Any] = value.get(str(n)) or {"state": "FAIL", "reason": "the batch job left this trial out"}
            state = {"COMPLETE": "COMPLETE", "PRUNED": "PRUNED"}.get(got["state"], "FAIL")
            objective = got.get("value")
            if state == "COMPLETE" and not (isinstance(objective, (int, float)) and math.isfinite(objective)):
                state, got = "FAIL", {"reason": f"the trial completed with objective {objective!r}, not a number"}
            out[n] = Outcome(TrialState[state], objective if state == "COMPLETE" else None, got.get("reason"))
        return out
    outcome = outcome_of(ret)
    return {n: outcome for n in numbers}


# --- job side -------------------------------------------------------------------------------------------------------
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


def run_batch(
    cfg: DictConfig, run_dir: str, make_callbacks: Callable[[DictConfig, bool], List[RunCallback]]
) -> Dict[str, Dict[str, Any]]:
    """Train every trial of ``optuna.batch``; returns {number: {state, value, reason}} for the sweeper."""
    from birsweep.train.batched import BatchTrial, not_batchable, train_batched

    trials = [BatchTrial(c, d, make_callbacks(c, True)) for c, d in trial_configs(cfg, run_dir)]
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


def _run_alone(trial: Any) -> None:
    from birsweep.train.run import train

    try:
        trial.objective = train(trial.cfg, trial.run_dir, trial.callbacks)
        trial.status = RunStatus.COMPLETED
    except RunPruned as err:
        trial.status, trial.reason = RunStatus.PRUNED, str(err)
    except (KeyboardInterrupt, RunInterrupted):
        raise
    except Exception as err:
        trial.status, trial.reason = RunStatus.FAILED, f"{type(err).__name__}: {err}"
