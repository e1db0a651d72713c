"""The trials this sweep has in flight, marked "still running" (user attribute ``heartbeat``) every interval.

Another sweep of the same study on another machine cannot tell whether this process is alive; a fresh heartbeat
tells it the trial is not stale (:mod:`birsweep.sweep.alive.recovery`).
"""

from __future__ import annotations

import threading
import time
from typing import Dict, List

import optuna

from birsweep.sweep.alive.beat import Beating
from birsweep.sweep.alive.liveness import SWEEP_HEARTBEAT
from birsweep.sweep.alive.owner import OWNER_ATTR, Owner


class InFlight(Beating):
    """A thread-safe registry of running trials; used as a context manager, a daemon thread beats meanwhile."""

    thread_name = "optuna-heartbeat"

    def __init__(self, interval: float, owner: Owner) -> None:
        super().__init__(interval)
        self.owner = owner
        self._trials: Dict[int, optuna.Trial] = {}
        self._lock = threading.Lock()

    def add(self, trial: optuna.Trial) -> None:
        """Mark a trial just asked for as this sweep's (owner, first heartbeat) and beat it until discarded."""
        trial.set_user_attr(OWNER_ATTR, self.owner.encode())
        trial.set_user_attr(SWEEP_HEARTBEAT, time.time())
        with self._lock:
            self._trials[trial.number] = trial

    def discard(self, number: int) -> None:
        with self._lock:
            self._trials.pop(number, None)

    def numbers(self) -> List[int]:
        with self._lock:
            return list(self._trials)

    def beat(self) -> None:
        with self._lock:
            trials = list(self._trials.values())
        for trial in trials:
            try:
                trial.set_user_attr(SWEEP_HEARTBEAT, time.time())
            except Exception:  # finished meanwhile, or the storage is briefly locked: next beat
                pass
