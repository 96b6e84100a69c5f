"""Errors a user can fix. The CLI prints their message as one paragraph on stderr and
exits with `exit_code` (2 for usage errors, 1 for the rest), never with a traceback."""

from __future__ import annotations


class UserError(Exception):
    exit_code = 1


class UsageError(UserError):
    """An option value that cannot work (known only once the data is loaded, say)."""

    exit_code = 2


class DataError(UserError):
    """The data set is missing, cannot be downloaded or cannot be read."""
