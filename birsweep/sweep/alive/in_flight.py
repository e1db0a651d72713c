"""The trials this sweep has in flight, marked "still running" (user attribute ``heartbeat``) every interval.

Another sweep of the same study on another machine cannot tell whether this process is alive; a fresh heartbeat
tells it the trial is not stale (:mod:`birsweep.sweep.recovery`).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Dict, List, Optional, Type

import optuna


class InFlight:
    """A thread-safe registry of running trials; used as a context manager, a daemon thread beats meanwhile."""

    def __init__(self, interval: float) -> None:
        self.interval = float(interval)
        self._trials: Dict[int, optuna.Trial] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def add(self, trial: optuna.Trial) -> None:
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
                trial.set_user_attr("heartbeat", time.time())
            except Exception:  # finished meanwhile, or the storage is briefly locked: next beat
                pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def __enter__(self) -> InFlight:
        self._stop.clear()
        threading.Thread(target=self._loop, name="optuna-heartbeat", daemon=True).start()
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self._stop.set()
