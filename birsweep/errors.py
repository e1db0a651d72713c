"""Errors a user can act on. Their message names the problem and the fix; the CLI prints it as one line."""


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


class RunPruned(BirsweepError):
    """The run was stopped early by its study's pruner (raised by the trial handle, caught by the loop)."""
