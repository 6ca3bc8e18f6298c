"""An event loop on a virtual clock: time passes only while nothing is ready to run.

A unit test of a wait bound (a waiter gives up after ``max_wait``, a queue that keeps moving
within it is waited for) races real timers against the work between them: on a loaded box the
loop can be descheduled past a bound, and a timeout and the work that should beat it become due
in one turn. Here the loop's clock stands still while any callback is ready, and jumps straight
to the next timer when none is: the work between two timers takes no time at all, whatever the
box's speed, and a bound of seconds costs none either.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.SelectSelector):
    """A selector that, asked to wait, looks without waiting and moves the clock instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # no timer at all: only another thread can wake the loop
            return super().select(None)
        ready = super().select(0)
        if not ready:
            self.now += timeout
        return ready


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose :meth:`time` is the virtual clock (starts at 0.0)."""

    def __init__(self) -> None:
        self._clock = _JumpingSelector()
        super().__init__(self._clock)

    def time(self) -> float:
        return self._clock.now


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a :class:`VirtualClockLoop`."""
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(main)
