"""One owner per run dir: the run holds an exclusive ``flock`` on ``<run dir>/.run.lock`` for its whole life.

Taken in Hydra's ``on_run_start``, before Hydra writes its ``.hydra/`` files, so a second ``python launch.py``
into a dir that a live run holds stops with one line naming the holder (pid, host, start time), exit 2, and writes
nothing there. The kernel releases the lock when the process ends, however it ends (SIGKILL included), so a
dead run never leaves a stale lock: the next command into the dir takes it and resumes the run. The lock file stays
empty (it takes no block on a nearly full disk, where the record's closing write needs every one); the holder is
found in the kernel's own table of locks, ``/proc/locks``.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from typing import IO, Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from birsweep.errors import ConfigError

LOCK = ".run.lock"
_held: Optional[IO[str]] = None  # the open lock file of this process's run: the lock lives as long as it


def holder_of(path: str) -> str:
    """Who holds the flock on the file at ``path``: the pid /proc/locks names, with its start time."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            table = f.read().splitlines()
    except OSError:
        return "another process"
    for line in table:
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or "->" in fields:  # "->": a waiter, not the holder
            continue
        pid, where = fields[4], fields[5].split(":")
        device = (int(where[0], 16), int(where[1], 16)) if len(where) == 3 else None
        if device == (os.major(st.st_dev), os.minor(st.st_dev)) and int(where[2]) == st.st_ino:
            try:
                started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(f"/proc/{pid}").st_ctime))
            except OSError:
                return f"pid {pid} on {socket.gethostname()}"
            return f"pid {pid} on {socket.gethostname()}, started {started}"
    return "another process"


def acquire(run_dir: str) -> IO[str]:
    """Hold ``run_dir``'s lock for the life of this process (or until the returned file is closed); a run dir
    held by a live process raises ConfigError naming the holder. Creates ``run_dir`` only when it is free."""
    path = os.path.join(run_dir, LOCK)
    if os.path.exists(path):  # probe first, read-only: a refused run must write nothing in the dir
        with open(path) as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(
                    f"the run dir {run_dir} is in use by {holder_of(path)}: wait for that run to end, or give "
                    "another hydra.run.dir=..."
                ) from None
            fcntl.flock(probe, fcntl.LOCK_UN)
    os.makedirs(run_dir, exist_ok=True)
    f = open(path, "a")  # never written: an empty file holds no block
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # taken between the probe and here
        f.close()
        raise ConfigError(
            f"the run dir {run_dir} is in use by {holder_of(path)}: wait for that run to end, or give another "
            "hydra.run.dir=..."
        ) from None
    return f


class RunDirLock(Callback):
    """``hydra.callbacks.run_lock``: single runs (``python launch.py ...``) lock their run dir. The jobs of a
    multirun get their dirs from their sweep, which has its own ownership (docs/sweeps.md)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from birsweep.sweep.errors import PassThroughHydra

        global _held
        try:
            run_dir = OmegaConf.select(config, "hydra.run.dir", throw_on_missing=True)
        except Exception:  # an interpolation only Hydra can resolve: nothing to lock
            return
        if not run_dir:
            return
        self.on_run_end(config)  # a run before this one in the same process (in-process callers) gave it up
        try:
            _held = acquire(os.path.abspath(str(run_dir)))
        except ConfigError as err:
            raise PassThroughHydra(err) from None  # past Hydra's handler, to launch.py's one line (exit 2)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        global _held
        if _held is not None:
            _held.close()
            _held = None
