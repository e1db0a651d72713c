"""Which sweep process owns a running trial, and whether it is still alive.

A trial is RUNNING from the sweeper's ``ask`` until its ``tell``. If the sweep process dies in between (killed, a
lost login session), the trial would stay RUNNING for ever. The sweeper writes its identity (host, pid and the
process's start time, so a recycled pid is not mistaken for it) and a heartbeat into the trial's user attributes;
a later sweep treats a RUNNING trial as stale when its owner is known dead on this host, or when its heartbeat is
older than the grace period (owner on another machine, or unknown).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import List, Optional

OWNER_ATTR = "owner"  # trial user attribute: the sweep that asked for the trial (:meth:`Owner.encode`)


def _stat(pid: int) -> List[str]:
    """Fields 3.. of /proc/PID/stat (Linux; state, ppid, ...), or [] where it is not there."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return []
    return stat[stat.rfind(")") + 2 :].split()


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, or '' where /proc is not there."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""  # field 22 of proc(5); fields[0] is field 3


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str = ""

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), _start_time(os.getpid()))

    def encode(self) -> str:
        return f"{self.host}|{self.pid}|{self.started}"

    @classmethod
    def decode(cls, text: Optional[str]) -> Optional[Owner]:
        try:
            host, pid, started = str(text).split("|")
            return cls(host, int(pid), started)
        except (ValueError, TypeError):
            return None

    def alive(self) -> Optional[bool]:
        """True or False for a process on this host; None (cannot tell) for one on another host."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        fields = _stat(self.pid)
        if fields and fields[0] in ("Z", "X"):
            return False  # killed, not yet reaped by its parent
        if self.started and fields and len(fields) > 19 and fields[19] != self.started:
            return False  # the pid now belongs to another process
        return True

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"
