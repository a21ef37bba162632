"""Errors the engine raises: bad input, unavailable data, an unusable run store or checkpoint.

The CLI and the UI show their message as one line.
"""


class UserInputError(ValueError):
    """A value the user chose is invalid. ``param`` names the offending parameter."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class DataUnavailableError(RuntimeError):
    """A data set cannot be loaded (offline, checksum mismatch, corrupt cache)."""


class StoreError(RuntimeError):
    """The run database cannot be used right now (locked, corrupt, too new, unreadable)."""


class RunNotFoundError(StoreError):
    """The run id names no run in the database."""


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, truncated, or holds more than plain weights."""
