"""Who runs a confirmation run: a claim file in its run dir, so two sweeps of one study that reach the confirmation
stage together (two shells, two SLURM jobs on one storage and sweep dir) launch each run once.

* A claim is ``<run dir>/claim.json``: the claimant sweep's owner (host, pid, start time) and a ``beat`` value it
  rewrites every ``interval`` s while it holds the claim. Taking a claim happens under an exclusive ``flock`` on
  ``.claims.lock`` beside the run dir, so two sweeps never both take one run, also two studies sharing one
  baseline dir (``confirm.baseline_dir``).
* A claim held by another sweep is taken over when that sweep is dead: known dead on this host (its pid), or its
  ``beat`` has not changed for ``lost_after`` s by this sweep's clock (another host; clocks need not agree), as a
  stale trial is taken over by :mod:`birsweep.sweep.alive.recovery`.
* The claimant removes its claim once the run ended (completed or not); a killed sweep leaves it for the above.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from types import TracebackType
from typing import Any, Callable, Dict, Iterator, Optional, Type

from birsweep.sweep.alive.beat import Beating
from birsweep.sweep.alive.liveness import Silence
from birsweep.sweep.alive.owner import Owner

log = logging.getLogger(__name__)

CLAIM_FILE = "claim.json"
LOCK_FILE = ".claims.lock"


class Claims(Beating):
    """The claims this sweep holds on confirmation run dirs; a context manager that beats them meanwhile."""

    thread_name = "confirm-claims"

    def __init__(
        self,
        owner: Owner,
        interval: float,
        lost_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(interval)
        self.owner = owner
        self.lost_after, self.clock = float(lost_after), clock
        self._held: Dict[str, int] = {}  # run dir -> the beat count last written
        self._silence: Dict[str, Silence] = {}  # run dir -> how long another claimant's beat has not changed
        self._mutex = threading.Lock()

    @contextlib.contextmanager
    def _locked(self, run_dir: str) -> Iterator[None]:
        parent = os.path.dirname(os.path.abspath(run_dir))
        os.makedirs(parent, exist_ok=True)
        with open(os.path.join(parent, LOCK_FILE), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def read(run_dir: str) -> Optional[Dict[str, Any]]:
        try:
            with open(os.path.join(run_dir, CLAIM_FILE)) as f:
                data = json.load(f)
            return data if isinstance(data, dict) else None
        except (OSError, ValueError):
            return None  # no claim (a half-written one cannot exist: claims are written by rename)

    def _write(self, run_dir: str, beat: int) -> None:
        os.makedirs(run_dir, exist_ok=True)
        tmp = os.path.join(run_dir, f"{CLAIM_FILE}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            json.dump({"owner": self.owner.encode(), "beat": beat}, f)
        os.replace(tmp, os.path.join(run_dir, CLAIM_FILE))

    def holder_gone(self, run_dir: str, claim: Dict[str, Any]) -> Optional[str]:
        """Why another sweep's claim may be taken over, or None while its sweep may be alive."""
        owner = Owner.decode(claim.get("owner"))
        alive = owner.alive() if owner is not None else None
        if alive is False:
            return f"its sweep ({owner}) stopped"
        silence = self._silence.setdefault(run_dir, Silence(self.clock()))
        silent = silence.observe(claim.get("beat"), self.clock())
        if alive is None and silent > self.lost_after:
            return f"its sweep ({owner or 'unknown'}) has not beaten for {silent:.0f} s"
        return None

    def try_claim(self, run_dir: str) -> bool:
        """Take the run in ``run_dir`` for this sweep: True when it is now ours, False while another live sweep
        holds it."""
        with self._locked(run_dir):
            claim = self.read(run_dir)
            if claim is not None and Owner.decode(claim.get("owner")) != self.owner:
                why = self.holder_gone(run_dir, claim)
                if why is None:
                    return False
                log.warning("confirmation run %s was claimed by a sweep that is gone (%s): taken over", run_dir, why)
            with self._mutex:
                self._held[run_dir] = 0
                self._write(run_dir, 0)
            return True

    def release(self, run_dir: str) -> None:
        with self._mutex:
            if self._held.pop(run_dir, None) is None:
                return
            with contextlib.suppress(OSError):
                os.remove(os.path.join(run_dir, CLAIM_FILE))

    def beat(self) -> None:
        with self._mutex:
            for run_dir in list(self._held):
                self._held[run_dir] += 1
                with contextlib.suppress(OSError):
                    self._write(run_dir, self._held[run_dir])

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        for run_dir in list(self._held):  # also when stopping: nobody has to judge this sweep dead first
            self.release(run_dir)
