"""The parts of a run record other code names: how a run stands (:class:`RunStatus`), the sweep trial it belongs to
(:class:`TrialInfo`), and the groups of keys readers, W&B and a resumed run take from it.

They live apart from :mod:`birsweep.tracking.record`, which writes and reads the record, because most modules only
need these names (the sweep, the loggers, ``analysis``) and none of the file handling.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict


class RunStatus(str, Enum):
    """How a run stands; the record stores the plain word (``"completed"``), which compares equal to the member."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"  # a stop signal (SIGTERM, SIGUSR2, SIGINT) ended it; resumable from its checkpoint

    @property
    def trial_state(self) -> str:
        """The name of the Optuna trial state a run in this status stands for."""
        return {
            RunStatus.RUNNING: "RUNNING",
            RunStatus.COMPLETED: "COMPLETE",
            RunStatus.FAILED: "FAIL",
            RunStatus.PRUNED: "PRUNED",
            RunStatus.INTERRUPTED: "FAIL",
        }[self]


@dataclass(frozen=True)
class TrialInfo:
    """The sweep trial a run belongs to, as the record keeps it under ``"trial"`` (the storage password masked)."""

    study_name: str
    number: int
    params: Dict[str, Any]
    storage: str


# what a record says of its outcome (beside accuracies and timings): the W&B summary carries these under the same
# names, so W&B runs turn back into the DataFrames' rows (analysis/wandb_api.py)
OUTCOME_KEYS = (
    "status",
    "error",
    "tasks_done",
    "n_tasks",
    "protocol_tasks",
    "final_avg_acc",
    "val_final_avg_acc",
    "forgetting",
    "bwt",
    "objective",
    "objective_split",
    "started_at",
    "finished_at",
)
# with a validation split: the validation twins of the test accuracies, and what the objective is computed on
VAL_KEYS = ("val_acc_matrix", "val_avg_acc", "val_final_avg_acc")
# the training history: what a checkpoint carries and a resumed run takes over (with the timings)
HISTORY_KEYS = (
    "acc_matrix",
    "avg_acc",
    "forgetting",
    "bwt",
    "losses",
    "tasks_done",
    "final_task_acc",
    "final_avg_acc",
    "objective",
    "participation",
    "inert_terms",
    "diagnostics",
)
# history keys an older checkpoint may lack: a run resumed from one keeps them as a fresh record has them
LATER_HISTORY_KEYS = ("participation", "inert_terms", "diagnostics")
