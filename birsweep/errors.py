"""Errors a user can act on. Their message names the problem and the fix; the CLI prints it as one line."""

import errno
from typing import Callable, Optional

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# how a full disk reads once an error has become text (a job's failure reason, SQLite's error through SQLAlchemy)
NO_SPACE_TEXTS = ("No space left on device", "Disk quota exceeded", "database or disk is full")
# the other ways a storage stops taking writes under a running sweep: a file system remounted read-only, a study
# file replaced or made read-only underneath it, a failing disk
READ_ONLY = (errno.EROFS, errno.EIO)
READ_ONLY_TEXTS = ("Read-only file system", "attempt to write a readonly database", "disk I/O error")


class BirsweepError(Exception):
    """Base class: an expected failure with an actionable message."""


class ConfigError(BirsweepError):
    """A configuration value is invalid or inconsistent."""


class DataNotFoundError(BirsweepError):
    """A dataset is missing locally and could not be downloaded."""


class NonFiniteLossError(BirsweepError):
    """The training loss became NaN or infinite."""


class ResumeError(BirsweepError):
    """A checkpoint cannot be resumed with the current configuration."""


def first_line(err: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name if it has none), for one-line errors."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def last_line(err: BaseException) -> str:
    """The last non-empty line: where Hydra's InstantiationException puts the underlying cause."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def no_space_text(text: Optional[str]) -> bool:
    """Whether an error's text says the disk is full."""
    return text is not None and any(t in text for t in NO_SPACE_TEXTS)


def write_fault_text(text: Optional[str]) -> bool:
    """Whether an error's text says the storage takes no more writes: a full disk, or a read-only one."""
    return no_space_text(text) or (text is not None and any(t in text for t in READ_ONLY_TEXTS))


def write_fault_advice(text: str) -> str:
    """What the operator does about a write fault whose message is ``text``, before running the command again."""
    if no_space_text(text):
        return "free space there (df -h)"
    return "make it writable again (a read-only mount, a study file replaced or made read-only, a failing disk)"


def _in_chain(err: Optional[BaseException], errnos: tuple, says: Callable[[str], bool]) -> Optional[BaseException]:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if (isinstance(err, OSError) and err.errno in errnos) or says(str(err)):
            return err
        err = err.__cause__ or err.__context__
    return None


def no_space(err: Optional[BaseException]) -> Optional[BaseException]:
    """The error in ``err``'s chain (causes and contexts) that says the disk is full, or None."""
    return _in_chain(err, NO_SPACE, no_space_text)


def write_fault(err: Optional[BaseException]) -> Optional[BaseException]:
    """The error in ``err``'s chain that says the storage takes no more writes (full or read-only), or None."""
    return _in_chain(err, NO_SPACE + READ_ONLY, write_fault_text)


def failure_text(err: BaseException) -> str:
    """``Type: message`` for a run's record, naming a full or read-only disk deeper in the chain that the message
    hides (Optuna's StorageInternalError over SQLite's "attempt to write a readonly database")."""
    text = f"{type(err).__name__}: {err}"
    cause = write_fault(err)
    if cause is not None and cause is not err and not write_fault_text(text):
        text += f" (caused by {type(cause).__name__}: {first_line(cause)})"
    return text


class RunPruned(BirsweepError):
    """The run was stopped early by its study's pruner (raised by the trial handle, caught by the loop)."""


class StorageError(BirsweepError):
    """A run's files cannot be written: a full disk, or a dir that cannot be created or written."""


class RunInterrupted(BaseException):
    """A stop signal (SIGTERM, SIGUSR2: ``timeout``, SLURM's time limit and preemption) reached a run.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the way swallows it; ``launch.py``
    exits with 128 + the signal's number, as a shell reports a process a signal ended."""

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.signame = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signame}")
