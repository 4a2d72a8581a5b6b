"""Waiting for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
    """Poll ``condition`` until it is true (returning it), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not met in time")
        time.sleep(0.05)
    return result
