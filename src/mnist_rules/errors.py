"""Errors a user can fix. The CLI prints their message as one paragraph on stderr and
exits with `exit_code` (2 for usage errors, 1 for the rest), never with a traceback."""

from __future__ import annotations

import warnings


class UserError(Exception):
    exit_code = 1


class UsageError(UserError):
    """An option value that cannot work (known only once the data is loaded, say)."""

    exit_code = 2


class DataError(UserError):
    """The data set is missing, cannot be downloaded or cannot be read."""


class RunStopped(UserError):
    """A run ended before its last epoch. `result` holds the epochs finished before, so
    that a caller can still write them (a RunResult; typed loosely: no import here)."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class Diverged(RunStopped):
    """The loss became NaN or infinite."""


class Interrupted(RunStopped):
    """SIGINT or SIGTERM: the run stopped after the update in progress."""

    exit_code = 130


def first_line(error: BaseException) -> str:
    """The error's message's first line, or its type's name if it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def warn_fallback(what: str, error: BaseException, then: str) -> None:
    """One warning line: what failed, the error's first line (its type's name if it has
    none), and what happens instead. Every step mode that falls back says it this way."""
    warnings.warn(f"{what} ({first_line(error)}); {then}.", RuntimeWarning, stacklevel=4)
