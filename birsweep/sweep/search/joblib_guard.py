"""joblib's worker pool is one per process (loky's reusable executor), and getting it is not thread-safe.

``MemmappingExecutor.get_memmapping_executor`` asks loky for the executor (under loky's lock), then, outside that
lock, gives a *new* executor its ``_temp_folder_manager``. The sweeper's slots mode calls the joblib launcher from
several threads at once: a second thread handed the same new executor in between uses it before the attribute
exists (``AttributeError: 'MemmappingExecutor' object has no attribute '_temp_folder_manager'``) and its trial
fails. Loky makes a new executor at the first launch and whenever the old one broke (a worker killed, e.g. by the
OS under memory pressure), so this comes and goes with load. The whole set-up is made to run one thread at a time;
the jobs themselves still run side by side in the pool.

Loky's workers outlive a sweep process that was SIGKILLed: idle, they wait up to five minutes for work that never
comes (a running one trains on). Each worker is started with a watcher that ends it once its parent is gone.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

_LOCK = threading.RLock()
_MARK = "_birsweep_guarded"
WATCH_INTERVAL_S = 1.0


def die_with_parent(parent: int) -> None:
    """Loky worker initializer: a daemon thread ends this worker once ``parent`` (the sweep) is gone."""

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted by init or a subreaper: the parent pid changes
            time.sleep(WATCH_INTERVAL_S)
        os._exit(1)  # nobody would collect this job's result: the trial is closed by the next sweep

    threading.Thread(target=watch, name="birsweep-parent-watch", daemon=True).start()


def guard_joblib_executor() -> None:
    """Make joblib's executor set-up one thread at a time, its workers dying with this process (idempotent; a
    no-op without joblib)."""
    try:
        from joblib.executor import MemmappingExecutor  # type: ignore[import-untyped]
    except ImportError:
        return
    original = MemmappingExecutor.__dict__["get_memmapping_executor"].__func__
    if getattr(original, _MARK, False):
        return

    def guarded(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("initializer") is None:  # the same arguments every time: loky keeps reusing the pool
            kwargs.update(initializer=die_with_parent, initargs=(os.getpid(),))
        with _LOCK:
            return original(cls, *args, **kwargs)

    setattr(guarded, _MARK, True)
    MemmappingExecutor.get_memmapping_executor = classmethod(guarded)
