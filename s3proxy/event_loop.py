"""Which event loop runs a serving process: uvloop where it is installed, asyncio otherwise.

Every request crosses the event loop several times (the client socket, the upstream socket,
Hypercorn's and the application's tasks). uvloop implements the loop, its transports and its
task scheduling over libuv in C; measured A/B with ``benchmarks.variants`` it takes a share of
the CPU per small request that the Python loop spends (BENCHMARKS.md, "Per-request CPU").
``server.event_loop: auto`` uses it when the platform has it (Linux, macOS; not Windows, not
PyPy) and falls back to asyncio's own loop without it; ``asyncio`` keeps the standard loop (a
comparison, or a platform where uvloop misbehaves); ``uvloop`` insists, and check-config
refuses it where it cannot be imported.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

EventLoopChoice = Literal["auto", "asyncio", "uvloop"]
LoopFactory = Callable[[], asyncio.AbstractEventLoop]
T = TypeVar("T")


def _uvloop_factory() -> LoopFactory | None:
    """uvloop's loop constructor, or None where uvloop cannot be imported."""
    try:
        module = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: LoopFactory = module.new_event_loop
    return factory


def uvloop_available() -> bool:
    return _uvloop_factory() is not None


def loop_factory(choice: EventLoopChoice) -> tuple[str, LoopFactory | None]:
    """(name of the loop used, its constructor; None for asyncio's default)."""
    if choice == "asyncio":
        return "asyncio", None
    factory = _uvloop_factory()
    if factory is not None:
        return "uvloop", factory
    if choice == "uvloop":
        raise RuntimeError("server.event_loop is uvloop, but uvloop cannot be imported")
    return "asyncio", None


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice) -> T:
    """``asyncio.run(main)`` on the chosen loop (Python 3.11's asyncio.run takes no factory)."""
    _, factory = loop_factory(choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
