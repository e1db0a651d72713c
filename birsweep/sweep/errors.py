"""How a sweep that cannot go on reaches ``launch.py``, which prints one ``error:`` line and picks the exit code."""

from __future__ import annotations

from birsweep.errors import BirsweepError


class SweepError(BirsweepError):
    """The sweep stopped: more of its trials failed than ``max_failure_rate`` allows (exit code 1)."""


class PassThroughHydra(BaseException):
    """Carries a BirsweepError from the sweeper out of ``hydra.main`` to ``launch.py``.

    Hydra's ``run_and_report`` prints a traceback for any Exception a sweeper raises and exits with 1; it lets a
    BaseException pass untouched (as it does KeyboardInterrupt)."""

    def __init__(self, error: BirsweepError) -> None:
        super().__init__(str(error))
        self.error = error
