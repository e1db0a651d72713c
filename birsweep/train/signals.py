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
            raise RunInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
