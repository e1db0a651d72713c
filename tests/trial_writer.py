"""A job's trial handle writing to its study as fast as it can under the run's stop-signal handler, for
tests/test_signal_writes.py: ``python -m tests.trial_writer <sqlite file> <rounds>``. Round r writes to trial r until
a stop signal, prints where the signal's exception was raised (the file of the frame it interrupted), closes the
trial as the sweeper would (FAIL) and goes on; between rounds stop signals are ignored."""

from __future__ import annotations

import os
import signal
import sys
import traceback

import optuna

from birsweep.errors import RunInterrupted
from birsweep.sweep.job.trial import TrialHandle
from birsweep.sweep.search.storage import open_storage
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.loop.callbacks import TaskEnd
from birsweep.train.loop.signals import raise_on_stop_signals

optuna.logging.set_verbosity(optuna.logging.WARNING)


def one_round(url: str, marker: str, number: int) -> str:
    handle = TrialHandle(url, "s", number)
    handle.connect()
    with raise_on_stop_signals():
        try:
            open(f"{marker}.ready{number}", "w").close()
            for task in range(1, 10**9):
                handle.on_task_end(TaskEnd(task, 10**9, 0.5, (0.5,), 1.0, inert_terms=(str(task % 2),)))
                handle.on_finish(RunStatus.COMPLETED)  # reads the trial's state
        except RunInterrupted:
            frames = traceback.extract_tb(sys.exc_info()[2])
            open(f"{marker}.stopped{number}", "w").close()  # our handler still ignores later signals here
            return frames[-2].filename  # the frame the handler (frames[-1]) interrupted
    return "never"


def main(db: str, rounds: int) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # between rounds (the handler is put back after each)
    url = f"sqlite:///{db}"
    for number in range(rounds):
        print(f"raised in {one_round(url, db, number)}", flush=True)
        study = optuna.load_study(study_name="s", storage=open_storage(url))  # the sweeper's side
        study.tell(number, state=optuna.trial.TrialState.FAIL)
    return 143


if __name__ == "__main__":
    code = main(os.path.abspath(sys.argv[1]), int(sys.argv[2]))
    sys.stdout.flush()
    os._exit(code)  # every write is committed and the output flushed: skip the interpreter's teardown (torch's, ~1 s)
