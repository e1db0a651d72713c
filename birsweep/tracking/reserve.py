"""Disk space held back in a run dir so that its record can always be closed.

On a disk that fills up while a run trains, the checkpoint or the record's next write fails and the run ends; its
record must then say ``failed`` and why, which needs room for one more write of ``results.json`` and
``metrics.csv``. :class:`SpaceReserve` keeps a file of about twice their size allocated in the run dir while the
run is open; the closing write frees it when the disk has no room left (birsweep/tracking/record.py).
"""

from __future__ import annotations

import os

RESERVE = ".results.json.reserve"
PAGE = 4096  # the smallest reserve worth holding
MARGIN = 16 * 1024  # what a record may grow by before its closing write: the losses of the task it stopped in


class SpaceReserve:
    """A file of allocated (not sparse) bytes at ``path``; best effort: a disk too full to grow it keeps what it
    already has."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = 0

    def keep(self, size: int) -> None:
        """Hold ``size`` bytes, or as much of them as the disk has (halving down to one page)."""
        while size > self.size and size >= PAGE:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    os.posix_fallocate(fd, 0, size)
                finally:
                    os.close(fd)
                self.size = size
            except OSError:  # no room for that much: try half (the space already held stays held)
                size //= 2

    def release(self) -> bool:
        """Free the space; True when there was a reserve to free."""
        self.size = 0
        try:
            os.remove(self.path)
            return True
        except FileNotFoundError:
            return False
