"""Which settings may differ between the trials one batched job trains together (docs/sweeps.md, Many trials per
job): the batched trainer feeds these to its stacked computation as per-trial values; every other setting is one
computation's shape or code path, so trials that differ in it go to different jobs."""

from __future__ import annotations

from typing import Any, Mapping, Tuple

from birsweep import schema
from birsweep.declare import per_trial_keys_of


def per_trial_keys() -> Tuple[str, ...]:
    """The keys declared per-trial (``bounded(..., per_trial=True)``, ``per_trial``) in the schema's sections and the
    registered loss terms' configs: the seed, lr, SI strength, distillation temperature, and the batched terms'
    weights, floors and repulsion factor (``LossTerm.per_trial``)."""
    keys = (key for prefix, cls in schema.schema_sections() for key in per_trial_keys_of(cls, prefix))
    return tuple(dict.fromkeys(keys))  # variant.rep_f is found through both of its classes


PER_TRIAL_KEYS = per_trial_keys()


def structural_part(params: Mapping[str, Any]) -> Tuple[str, ...]:
    """The part of a trial's sampled parameters that must be equal within a batch (a hashable key): every other
    parameter's value, and which per-trial keys were sampled (a conditional one left out keeps the job's value)."""
    fixed = tuple(sorted(f"{k}={v!r}" for k, v in params.items() if k not in PER_TRIAL_KEYS))
    return fixed + tuple(sorted(str(k) for k in params if k in PER_TRIAL_KEYS))
