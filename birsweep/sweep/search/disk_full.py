"""A sweep on a disk that fills up stops with one line and a consistent study (docs/faults.md, "A full disk").

Two ways in: a trial's job fails to write its checkpoint or record (its record closes itself as ``failed`` with
the reason, birsweep/tracking/reserve.py), or the sweep's own writes fail (the SQLite study, ``multirun.yaml``, the
results files). Neither is the trial's fault: its FAIL is retryable (not counted toward ``n_trials``, run again on
resume), and the sweep stops at once instead of failing every later trial on the same full disk. A write the sweep
cannot make leaves the trial as the next start finds it (RUNNING, closed then as stale).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

import optuna

from birsweep.errors import first_line, no_space
from birsweep.sweep.errors import SweepError
from birsweep.sweep.search.stop import close_cut_short
from birsweep.tracking.record_fields import RunStatus


def stop_line(sweep_dir: str, why: str) -> str:
    return (
        f"the disk under {sweep_dir} is full ({why}); the sweep stops: free space there (df -h) and run the same "
        "command again, it resumes and runs the cut-short trials again"
    )


class Sweep(Protocol):
    """What of the sweeper this needs; ``study`` and ``inflight`` exist once the sweep has opened its study."""

    sweep_dir: str


@contextmanager
def full_disk_stops(sweep: Sweep) -> Iterator[None]:
    """A full disk met by the sweep itself becomes one SweepError line; its trials in flight are closed as cut short
    (FAIL, retryable; their records failed) where the storage still takes the write."""
    try:
        yield
    except BaseException as err:
        found = no_space(err)
        if found is None:
            raise
        why = first_line(found)
        study, inflight = getattr(sweep, "study", None), getattr(sweep, "inflight", None)
        if isinstance(study, optuna.Study) and inflight is not None:
            for number in inflight.numbers():
                try:
                    close_cut_short(study, number, sweep.sweep_dir, f"disk full: {why}", RunStatus.FAILED)
                except Exception:  # the storage is on the full disk too: the next start closes it as stale
                    pass
        raise SweepError(stop_line(sweep.sweep_dir, why)) from None
