"""Errors the engine raises for bad input; the CLI and the UI show their message as one line."""


class UserInputError(ValueError):
    """A value the user chose is invalid. ``param`` names the offending parameter."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class DataUnavailableError(RuntimeError):
    """A data set cannot be loaded (offline, checksum mismatch, corrupt cache)."""
