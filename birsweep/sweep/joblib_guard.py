"""joblib's worker pool is one per process (loky's reusable executor), and getting it is not thread-safe.

``MemmappingExecutor.get_memmapping_executor`` asks loky for the executor (under loky's lock), then, outside that
lock, gives a *new* executor its ``_temp_folder_manager``. The sweeper's slots mode calls the joblib launcher from
several threads at once: a second thread handed the same new executor in between uses it before the attribute
exists (``AttributeError: 'MemmappingExecutor' object has no attribute '_temp_folder_manager'``) and its trial
fails. Loky makes a new executor at the first launch and whenever the old one broke (a worker killed, e.g. by the
OS under memory pressure), so this comes and goes with load. The whole set-up is made to run one thread at a time;
the jobs themselves still run side by side in the pool.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()
_MARK = "_birsweep_serialized"


def serialize_executor_setup() -> None:
    """Make joblib's executor set-up one thread at a time (idempotent; a no-op without joblib)."""
    try:
        from joblib.executor import MemmappingExecutor  # type: ignore[import-untyped]
    except ImportError:
        return
    original = MemmappingExecutor.__dict__["get_memmapping_executor"].__func__
    if getattr(original, _MARK, False):
        return

    def serialized(cls: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(cls, *args, **kwargs)

    setattr(serialized, _MARK, True)
    MemmappingExecutor.get_memmapping_executor = classmethod(serialized)
