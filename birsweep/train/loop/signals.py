"""Stop signals become an exception in the run, so its record can say ``interrupted`` before the process ends.

SIGTERM is what ``timeout``, ``kill`` and SLURM at a job's time limit send; SIGUSR2 is what submitit asks SLURM to
send before the limit or on preemption. Python's default for both ends the process on the spot, leaving a record
that says ``running`` forever.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Iterator, List, Optional

from birsweep.errors import RunInterrupted

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR2)

# Storage calls in progress in the main thread (:func:`deferred`) and a stop signal that arrived meanwhile
_deferring = 0
_pending: List[int] = []


@contextmanager
def deferred() -> Iterator[None]:
    """While inside (main thread), a stop signal does not raise at once but when the block ends: raised inside a
    database call, it could leave a transaction and the database's lock behind in a frame the exception keeps alive,
    and every later write of the process (the record's close, the sweeper's tell) would wait for that lock. Storage
    calls are short (at most SQLite's lock timeout), so the stop stays prompt."""
    global _deferring
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if _deferring == 0 and _pending:
            raise RunInterrupted(_pending.pop())


@contextmanager
def raise_on_stop_signals() -> Iterator[None]:
    """While inside, the first stop signal raises :class:`RunInterrupted`; later ones are ignored, so closing the
    record is not cut short. Handlers can only be set in the main thread: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: List[int] = []

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        if not received:
            received.append(signum)
            if _deferring:
                _pending.append(signum)  # raised when the storage call ends (deferred)
                return
            raise RunInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        _pending.clear()  # a signal deferred past the run is not raised later by someone else's storage call
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
