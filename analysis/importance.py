"""Parameter importances, only where the study can support them (docs/analysis.md, "Parameter importance").

Optuna's evaluator fits a model of the objective on the complete trials. With a handful of trials, or trials
that share one value (an inactive term gives every trial the baseline's accuracy), it still returns numbers,
and they only describe noise. So importances are computed only with at least ``MIN_COMPLETE`` complete trials
holding at least ``MIN_DISTINCT`` distinct objective values and a parameter that varies among them; otherwise
the reason is given instead.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

MIN_COMPLETE = 5
MIN_DISTINCT = 3


def why_no_importances(values: Sequence[float], params: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """Why the complete trials (their objective ``values`` and ``params``) cannot rank the parameters, or None."""
    n = len(values)
    if n < MIN_COMPLETE:
        return f"{n} complete trial{'' if n == 1 else 's'}; importances need at least {MIN_COMPLETE}"
    distinct = len({round(float(v), 12) for v in values})
    if distinct < MIN_DISTINCT:
        return (
            f"the {n} complete trials have only {distinct} distinct objective value{'' if distinct == 1 else 's'} "
            f"(at least {MIN_DISTINCT} needed): trials that tie, e.g. because a term never fired, "
            "say nothing about which parameter matters"
        )
    keys = {k for p in params for k in p}
    if not any(len({str(p.get(k)) for p in params}) > 1 for k in keys):
        return "the complete trials share the same parameters"
    return None


def param_importances(storage: Any, study_name: str) -> Tuple[Optional[Dict[str, float]], str]:
    """Optuna's parameter importances for the objective (its default evaluator), or None and why not."""
    import optuna

    from analysis.study import open_storage

    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    done = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
    ]
    why = why_no_importances([float(t.value) for t in done], [t.params for t in done])  # type: ignore[arg-type]
    if why:
        return None, why
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. experimental-feature warnings of the evaluator
            return dict(optuna.importance.get_param_importances(study)), ""
    except Exception as err:  # noqa: BLE001 - e.g. a search space the evaluator cannot fit
        return None, f"{type(err).__name__}: {err}"
