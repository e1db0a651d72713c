"""One beating thread for every heartbeat: the sweep's on its trials in flight, the job's on its trial, the sweep's
on its confirmation claims. A heartbeat is a value some other process watches change (:mod:`.liveness`)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Optional, Type, TypeVar

Self = TypeVar("Self", bound="Beating")


class Beating:
    """A context manager that calls :meth:`beat` every ``interval`` seconds on a daemon thread, from entry to exit
    (daemon: a beat never keeps a finished process alive). ``beat_on_entry``: beat at once, before the first wait
    (the job beats from its start; the sweep has just written its trials' first beat when it asked for them)."""

    thread_name = "heartbeat"
    beat_on_entry = False

    def __init__(self, interval: float) -> None:
        self.interval = float(interval)
        self._stop = threading.Event()

    def beat(self) -> None:
        """One mark; must not raise (a storage briefly busy is tried again at the next beat)."""
        raise NotImplementedError

    def _loop(self) -> None:
        if self.beat_on_entry:
            self.beat()
        while not self._stop.wait(self.interval):
            self.beat()

    def __enter__(self: Self) -> Self:
        self._stop.clear()
        threading.Thread(target=self._loop, name=self.thread_name, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self._stop.set()
