"""Which settings may differ between the trials one batched job trains together (docs/sweeps.md, Many trials per
job): the batched trainer feeds these to its stacked computation as per-trial values; every other setting is one
computation's shape or code path, so trials that differ in it go to different jobs."""

from __future__ import annotations

PER_TRIAL_KEYS = ("seed", "trainer.lr", "model.si_c", "model.distill_temp")


def structural_part(params: dict) -> tuple:
    """The part of a trial's sampled parameters that must be equal within a batch (a hashable key)."""
    return tuple(sorted((str(k), repr(v)) for k, v in params.items() if k not in PER_TRIAL_KEYS))
