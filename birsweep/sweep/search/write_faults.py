"""A sweep whose disk stops taking writes stops with one line and a consistent study (docs/faults.md, "A full or
read-only disk").

The disk fills up, or the file system goes read-only, or the study file is replaced or made read-only under the
running sweep. Two ways in: a trial's job fails to write its checkpoint, record or report (its record closes itself
as ``failed`` with the reason, birsweep/tracking/reserve.py), or the sweep's own writes fail (the SQLite study,
``multirun.yaml``, the results files). Neither is the trial's fault: its FAIL is retryable (not counted toward
``n_trials``, run again on resume), and the sweep stops at once instead of failing every later trial the same way.
A write the sweep cannot make leaves the trial as the next start finds it (RUNNING, closed then as stale).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

import optuna

from birsweep.errors import first_line, no_space, write_fault, write_fault_advice
from birsweep.sweep.errors import SweepError
from birsweep.sweep.search.stop import close_cut_short
from birsweep.tracking.record_fields import RunStatus


def stop_line(sweep_dir: str, err: BaseException) -> str:
    why = first_line(err)
    what = (
        f"the disk under {sweep_dir} is full"
        if no_space(err) is not None
        else f"the sweep cannot write under {sweep_dir}"
    )
    return (
        f"{what} ({why}); the sweep stops: {write_fault_advice(str(err))} and run the same command again, it resumes "
        "and runs the cut-short trials again"
    )


class Sweep(Protocol):
    """What of the sweeper this needs; ``study`` and ``inflight`` exist once the sweep has opened its study."""

    sweep_dir: str


@contextmanager
def write_faults_stop(sweep: Sweep) -> Iterator[None]:
    """A full or read-only disk met by the sweep itself becomes one SweepError line; its trials in flight are closed
    as cut short (FAIL, retryable; their records failed) where the storage still takes the write."""
    try:
        yield
    except BaseException as err:
        found = write_fault(err)
        if found is None:
            raise
        line = stop_line(sweep.sweep_dir, found)
        reason = f"{'disk full' if no_space(found) is not None else 'cannot write'}: {first_line(found)}"
        study, inflight = getattr(sweep, "study", None), getattr(sweep, "inflight", None)
        if isinstance(study, optuna.Study) and inflight is not None:
            for number in inflight.numbers():
                try:
                    close_cut_short(study, number, sweep.sweep_dir, reason, RunStatus.FAILED)
                except Exception:  # the storage is on that disk too: the next start closes it as stale
                    pass
        raise SweepError(line) from None
