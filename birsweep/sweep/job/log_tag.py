"""``[trial N]`` in front of a job's log lines, so a sweep's console (trials interleaved) says whose line it is."""

from __future__ import annotations

import logging


class TrialTag(logging.Filter):
    """A handler filter: every record through the handler gets the prefix once (records are shared by handlers)."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.prefix = f"[trial {number}] "

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and not record.msg.startswith(self.prefix):
            record.msg = self.prefix + record.msg
        return True


def tag_logs(number: int) -> None:
    """Tag the root logger's handlers with trial ``number``, replacing the tag of a job run before in this process
    (joblib's workers and the basic launcher run many jobs in one process)."""
    untag_logs()
    for handler in logging.getLogger().handlers:
        handler.addFilter(TrialTag(number))


def untag_logs() -> None:
    for handler in logging.getLogger().handlers:
        for f in [f for f in handler.filters if isinstance(f, TrialTag)]:
            handler.removeFilter(f)
