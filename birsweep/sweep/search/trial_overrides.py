"""What makes a launched job one trial's: its overrides. First the sampled parameters (and the thread count the
sweeper chose), then ``+optuna=trial`` and the ``optuna.*`` values the job reads back as
:class:`birsweep.schema.TrialConfig` (birsweep/sweep/job/trial.py): who the trial is, where its study lives, the
pruner to rebuild, the owning sweep and the liveness settings.

Kept apart from the sweeper's ask/launch/tell loop (birsweep/sweep/search/sweeper.py), which launches these.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from birsweep.sweep import TRIAL_GROUP, TRIAL_OPTION
from birsweep.sweep.search.override_text import format_value


def trial_overrides(
    searched: List[str],
    threads: Optional[str],
    *,
    storage: str,
    study_name: str,
    number: int,
    pruner: Optional[Dict[str, Any]],
    params: Dict[str, Any],
    owner: str,
    lost_after: float,
    heartbeat: float,
) -> List[str]:
    """``searched``: the space's overrides for the sampled ``params``; ``threads``: the sweeper's ``trainer.threads``
    override, if any; ``storage``: what the job opens (an ``${oc.env:...}`` kept as written)."""
    return [
        *searched,
        *([threads] if threads else []),
        f"+{TRIAL_GROUP}={TRIAL_OPTION}",
        f"{TRIAL_GROUP}.storage={format_value(storage)}",
        f"{TRIAL_GROUP}.study_name={format_value(study_name)}",
        f"{TRIAL_GROUP}.trial_number={number}",
        f"{TRIAL_GROUP}.pruner={format_value(pruner)}",
        f"{TRIAL_GROUP}.params={format_value(params)}",
        f"{TRIAL_GROUP}.owner={format_value(owner)}",
        f"{TRIAL_GROUP}.sweep_lost_after={lost_after}",
        f"{TRIAL_GROUP}.heartbeat_interval={heartbeat}",
    ]
