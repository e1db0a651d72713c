"""A cache file built once when several processes want it at the same moment, e.g. the jobs of a multirun that
all start on a fresh cache and would each pre-train the same encoder (docs/faults.md, Caches).

The first process takes an exclusive ``flock`` on ``<file>.lock`` and builds; the others wait for the lock, find
the file and load it. The kernel releases the lock when its holder dies, so a builder killed half-way (its
atomic write never lands) leaves the next waiter to build instead. ``flock`` holds across processes of one host
and, on Linux NFSv4 mounts, across hosts.
"""

from __future__ import annotations

import fcntl
import logging
import os
from contextlib import contextmanager
from typing import Callable, Iterator

log = logging.getLogger(__name__)


@contextmanager
def cache_lock(path: str) -> Iterator[None]:
    """Hold the exclusive build lock of cache file ``path`` while inside; say so when another process has it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is building %s: waiting for it", path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def build_once(path: str, build: Callable[[], None], force: bool = False) -> bool:
    """Make cache file ``path`` with ``build()`` (which must write it atomically) unless it exists, or exists by
    the time the lock is ours; ``force`` builds anyway (still one builder at a time). True when built here."""
    if os.path.isfile(path) and not force:
        return False
    with cache_lock(path):
        if os.path.isfile(path) and not force:  # another process built it while we waited
            return False
        build()
        return True
