"""Waiting on a condition, never on the clock: a bounded poll that says what it waited for."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until[T](
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    """The first truthy value ``condition`` returns; AssertionError naming ``what`` once
    ``timeout`` seconds pass without one. The condition is asked once more at the deadline,
    so a slow machine that gets there late still passes."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(interval)
