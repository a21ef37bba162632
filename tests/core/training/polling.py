"""Waiting in tests: poll a condition until it holds or a deadline passes (shared by the training tests)."""

from __future__ import annotations

import time


def wait_for(check, timeout: float = 120.0, what: str = "condition", every: float = 0.05):
    """Poll ``check()`` until it returns something truthy (returned) or ``timeout`` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
