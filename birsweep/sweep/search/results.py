"""What a sweep leaves in its sweep dir: ``optimization_results.yaml``, ``trials.csv``, and a one-screen summary."""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from birsweep.io import write_text
from birsweep.secrets import mask_url
from birsweep.sweep.labels import format_params
from birsweep.sweep.search.inert import inert_line, inert_summary

RESULTS_FILE = "optimization_results.yaml"
TRIALS_FILE = "trials.csv"
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
WIDTH = 90  # characters of parameters shown per trial


def counts(trials: List[FrozenTrial]) -> Dict[str, int]:
    c = Counter(t.state.name for t in trials)
    return {s: int(c.get(s, 0)) for s in STATES}


def _plain(value: Any) -> Any:
    """YAML-friendly: numpy scalars and tuples become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def best_trial(study: optuna.Study) -> Optional[FrozenTrial]:
    try:
        return study.best_trial
    except ValueError:  # no COMPLETE trial yet
        return None


def summary_dict(study: optuna.Study, storage: str, n_trials: int) -> Dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    best = best_trial(study)
    return {
        "name": "optuna",
        "study_name": study.study_name,
        "storage": mask_url(storage),
        "direction": study.direction.name.lower(),
        "n_trials": n_trials,
        "best_trial": None if best is None else best.number,
        "best_value": None if best is None or best.value is None else float(best.value),
        "best_params": None if best is None else _plain(dict(best.params)),
        "best_run_dir": None if best is None else best.user_attrs.get("run_dir"),
        "counts": counts(trials),
        "inert_trials": inert_summary(trials),  # complete trials whose variant term never fired
    }


def write(
    study: optuna.Study, sweep_dir: str, storage: str, n_trials: int, confirmation: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """Write both files (atomically) and return the summary (with the confirmation stage's block, if any)."""
    os.makedirs(sweep_dir, exist_ok=True)
    data = summary_dict(study, storage, n_trials)
    if confirmation is not None:
        data["confirmation"] = _plain(confirmation)
    write_text(os.path.join(sweep_dir, RESULTS_FILE), OmegaConf.to_yaml(OmegaConf.create(data)))
    frame = study.trials_dataframe(multi_index=False)
    write_text(os.path.join(sweep_dir, TRIALS_FILE), frame.to_csv(index=False))
    return data


def _fmt_value(value: Optional[float]) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _last_value(trial: FrozenTrial) -> Optional[float]:
    """The value a trial reported last; None if it was pruned before reporting any."""
    return None if trial.last_step is None else trial.intermediate_values.get(trial.last_step)


def render(
    study: optuna.Study,
    storage: str,
    n_trials: int,
    sweep_dir: str,
    dashboard: Optional[str] = None,
    top: int = 5,
    extra: Sequence[str] = (),
) -> str:
    """The one-screen summary printed at the end of a sweep."""
    data = summary_dict(study, storage, n_trials)
    trials = study.get_trials(deepcopy=False)
    c = data["counts"]
    lines = [
        f"Optuna study {data['study_name']!r} ({data['direction']})  storage: {data['storage']}",
        "trials: "
        + ", ".join(f"{c[s]} {s.lower()}" for s in STATES if c[s] or s in STATES[:3])
        + f"  (target {n_trials} finished)",
    ]
    if data["best_trial"] is not None:
        lines.append(
            f"best: trial {data['best_trial']}  value {data['best_value']:.4f}  "
            f"{format_params(data['best_params'], WIDTH)}"
        )
    done = [(t.value, t) for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    sign = -1 if data["direction"] == "maximize" else 1
    done.sort(key=lambda value_trial: sign * value_trial[0])
    if done:
        lines.append(f"top {min(top, len(done))} complete:")
        for value, t in done[:top]:
            lines.append(f"  #{t.number:<4d} {_fmt_value(value)}  {format_params(t.params, WIDTH)}")
    inert = inert_line(data["inert_trials"], c["COMPLETE"])
    if inert:
        lines.append(inert)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    if pruned:
        lines.append(
            "pruned: "
            + ", ".join(f"#{t.number} after task {t.last_step} ({_fmt_value(_last_value(t))})" for t in pruned[:12])
            + (" ..." if len(pruned) > 12 else "")
        )
    failed = [t for t in trials if t.state == TrialState.FAIL]
    for t in failed[:5]:
        reason = str(t.user_attrs.get("fail_reason", "no reason recorded"))
        lines.append(f"failed: #{t.number} {reason[:100]}")
    if len(failed) > 5:
        lines.append(f"failed: ... and {len(failed) - 5} more (trials.csv, user_attrs_fail_reason)")
    lines += extra  # e.g. the confirmation stage's results
    lines.append(f"results: {os.path.join(sweep_dir, RESULTS_FILE)}, {os.path.join(sweep_dir, TRIALS_FILE)}")
    if dashboard:
        lines.append(f"watch:   optuna-dashboard {dashboard}")
    width = max(len(line) for line in lines)
    rule = "=" * min(width, 110)
    return "\n".join([rule, *lines, rule])
