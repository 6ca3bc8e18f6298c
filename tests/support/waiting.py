"""Waiting for a state that is certain to come, only not when: one poll loop for the suite.

An access line, a metric sample or a worker's exit follows the client's answer by a moment the
test cannot know; a box at a load of 20 or 30 stretches it to seconds. So a test polls for the
state, with a deadline long enough never to be met by a slow box, only by a state that never
comes (which then fails, saying what was awaited). What is asserted is the state, never the
time it took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

DEADLINE = 60.0
"""Seconds a wait may take before the test fails: far past any loaded box's delay."""
POLL = 0.02
"""Seconds between two looks."""

T = TypeVar("T")


def wait_for(what: Callable[[], T], message: str, timeout: float = DEADLINE) -> T:
    """``what()`` once it returns something true; AssertionError(``message``) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {message}"
        time.sleep(POLL)
    return found
