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
