"""The job side of liveness: while a trial's job runs, a daemon thread marks the trial ``job_heartbeat`` in the
study storage every interval, so a sweep on any host can tell it is alive (:class:`.liveness.JobWatch`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

from birsweep.sweep.alive.beat import Beating
from birsweep.sweep.alive.liveness import JOB_HEARTBEAT, JOB_ID
from birsweep.sweep.search.storage import open_storage

log = logging.getLogger(__name__)


class JobBeat(Beating):
    """Context manager: beats from entry (the job's start, before data and encoder set-up) to exit."""

    thread_name = "optuna-job-heartbeat"
    beat_on_entry = True

    def __init__(
        self, storage: str, study_name: str, trial_number: int, interval: float, job_id: Optional[str] = None
    ) -> None:
        super().__init__(interval)
        self.storage_spec, self.study_name, self.number = str(storage), str(study_name), int(trial_number)
        self.job_id = job_id  # the cluster's id of the job, noted once as user attribute ``job_id`` (for scancel)
        self._storage: Any = None
        self._trial_id: Optional[int] = None

    def beat(self) -> None:
        """One mark; a storage that is briefly locked or unreachable is tried again at the next beat."""
        try:
            if self._trial_id is None:
                self._storage = open_storage(self.storage_spec)
                study_id = self._storage.get_study_id_from_name(self.study_name)
                self._trial_id = self._storage.get_trial_id_from_study_id_trial_number(study_id, self.number)
                if self.job_id is not None:
                    self._storage.set_trial_user_attr(self._trial_id, JOB_ID, self.job_id)
            self._storage.set_trial_user_attr(self._trial_id, JOB_HEARTBEAT, time.time())
        except Exception as err:  # the trial finished meanwhile, or the storage is busy: the sweep judges
            log.debug("job heartbeat of trial %d not written: %s", self.number, err)


def job_beat_of(study: Any, number: int) -> Any:
    """The sweep side: trial ``number``'s job heartbeat as the storage holds it now (None: none, or no news)."""
    try:
        storage = study._storage
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
        return storage.get_trial(trial_id).user_attrs.get(JOB_HEARTBEAT)
    except Exception:  # the storage is briefly busy: no news this time
        return None
