"""A log file that cannot be written (a full disk) is reported in one line, once.

Python's logging prints "--- Logging error ---" with a traceback and the call stack for every line a file handler
fails to write: on a full disk, a run's last few log lines became close to a hundred lines of noise around the one
error that mattered. :func:`report_log_write_errors_once` makes each file handler of the job's logging say it once;
the console handler still shows every line.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable, Optional


def _once(handler: logging.FileHandler) -> Callable[[logging.LogRecord], None]:
    told = False

    def handle_error(record: logging.LogRecord) -> None:
        nonlocal told
        if not told:
            told = True
            err = sys.exc_info()[1]
            why = getattr(err, "strerror", None) or err
            print(
                f"warning: cannot write the log file {handler.baseFilename} ({why}); its later lines are dropped, "
                "the console still shows them",
                file=sys.stderr,
            )
            stream, handler.stream = handler.stream, open(os.devnull, "w", encoding="utf-8")
            try:  # what it holds unwritten would fail again at every flush
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    return handle_error


def report_log_write_errors_once(logger: Optional[logging.Logger] = None) -> None:
    """Give each file handler of ``logger`` (the root logger: where Hydra puts the job's log file) a one-line,
    once-only report of a failed write."""
    for handler in (logger or logging.getLogger()).handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handleError = _once(handler)  # type: ignore[method-assign,assignment]
