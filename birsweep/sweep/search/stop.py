"""A sweep stopped by SIGTERM stops as Ctrl-C stops it (docs/faults.md): its jobs get the signal too, each records
itself ``interrupted`` (checkpoint kept), the sweep waits for them, tells their trials FAIL (retryable: they do
not count toward ``n_trials`` and run again on resume) and exits with 128 + 15.

Without this the sweep process died at once (Python's default for SIGTERM), its joblib workers with it a second
later, and their records stayed ``running`` until the next sweep closed them as stale.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Iterator, List, Optional

import optuna
from optuna.trial import TrialState

from birsweep.errors import RunInterrupted
from birsweep.sweep.search.outcome import Outcome, close_record, tell
from birsweep.tracking.record_fields import RunStatus


@contextmanager
def stop_like_ctrl_c() -> Iterator[None]:
    """While inside (main thread, SIGTERM not handled by anyone else): the first SIGTERM goes on to the process
    group this sweep leads (its local jobs: a shell's job, or the group a campaign gives each study) and raises
    RunInterrupted here; later ones are ignored while the sweep closes its trials."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return
    received: List[int] = []

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        if received:
            return
        received.append(signum)
        if os.getpgrp() == os.getpid():  # never signal a group this sweep does not lead (a test runner's, say)
            os.killpg(os.getpgrp(), signum)  # reaches this process too: ignored above
        raise RunInterrupted(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def close_cut_short(
    study: optuna.Study,
    number: int,
    sweep_dir: str,
    reason: str = "sweep interrupted",
    status: RunStatus = RunStatus.INTERRUPTED,
) -> None:
    """A trial in flight when its sweep was stopped (or met a full disk): FAIL, retryable (not counted, run again on
    resume), its record (in its job dir, ``<sweep dir>/<number>``) closed where its job could not close it."""
    tell(study, number, Outcome(TrialState.FAIL, reason=reason), retryable=True)
    job_dir = os.path.join(sweep_dir, str(number))
    close_record(study, number, reason, status, job_dir)
