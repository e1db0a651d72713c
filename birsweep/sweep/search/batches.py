"""The sweep's side of ``hydra.sweeper.trials_per_job=K`` (docs/sweeps.md, Many trials per job): the sweep forms
each batch, the job trains it (:mod:`birsweep.sweep.job.batch`) and returns one outcome per trial.

:func:`group` splits the trials asked for one job into jobs whose trials differ only in
:data:`~birsweep.train.batched.keys.PER_TRIAL_KEYS`; :func:`job_overrides` gives a job of several trials the first
trial's overrides plus ``optuna.batch`` (every trial's number and parameters); :func:`outcomes_of` reads the job's
return, ``{number: {state, value, reason}}``, one outcome per trial.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

from optuna.trial import TrialState

from birsweep.sweep import TRIAL_GROUP
from birsweep.sweep.search.outcome import Outcome, outcome_of
from birsweep.sweep.search.override_text import format_value
from birsweep.train.batched.keys import structural_part

Asked = Tuple[int, Dict[str, Any], List[str]]  # trial number, sampled parameters, the job's overrides
Job = Tuple[List[int], List[str]]  # the trials a job trains, its overrides


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
