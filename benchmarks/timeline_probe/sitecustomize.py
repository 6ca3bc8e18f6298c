"""The probe ``benchmarks.request_timeline`` loads into the proxy it starts (through PYTHONPATH:
Python imports ``sitecustomize`` at start-up). Never part of the proxy itself.

When ``S3PROXY_TIMELINE_OUT`` names a file, it wraps, once ``s3proxy.server`` is imported, the
places one small request passes, and writes one line per request: its method and the
monotonic nanoseconds (relative to its first byte) at which it passed each point. A point the
request did not pass is left out. Wrapping costs each request a few µs, the same for every
phase; the lines are written in batches of 200 and at exit.
"""

from __future__ import annotations

import atexit
import functools
import importlib.abc
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from typing import Any

OUT = os.environ.get("S3PROXY_TIMELINE_OUT")
_now = time.perf_counter_ns
_lines: list[str] = []
_current: dict[str, Any] = {}


def _flush() -> None:
    if OUT and _lines:
        with open(OUT, "a") as out:
            out.write("".join(_lines))
        _lines.clear()


def _mark(point: str) -> None:
    _current.setdefault(point, _now())


def _entered(owner: Any, name: str, point: str, left: str | None = None) -> None:
    """Mark ``point`` when coroutine method ``owner.name`` is entered (``left``: when it ends)."""
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        _mark(point)
        try:
            return await original(*args, **kwargs)
        finally:
            if left is not None:
                _mark(left)

    setattr(owner, name, wrapper)


def _install() -> None:
    import fcntl
    import struct
    import termios

    from s3proxy import app, uvicorn_engine
    from s3proxy.backends import mapped, s3, s3_transport, upstream_http, upstream_pool
    from s3proxy.handlers import HANDLERS

    received = uvicorn_engine.S3Protocol.data_received

    def data_received(self: Any, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:  # a new request's first bytes
            _current.clear()
            _current["arrived"] = _now()
            _current["protocol"] = self
        received(self, data)

    uvicorn_engine.S3Protocol.data_received = data_received  # type: ignore[method-assign]

    serve = app.S3App._serve

    async def _serve(self: Any, scope: dict[str, Any], body: Any, send: Any) -> None:
        _current["method"] = scope["method"]
        _mark("app")
        try:
            await serve(self, scope, body, send)
        finally:
            _mark("done")
            _record()

    app.S3App._serve = _serve  # type: ignore[method-assign]

    def _record() -> None:
        start = _current.get("arrived")
        protocol = _current.pop("protocol", None)
        if start is None:
            return
        waiting = 0
        try:  # the next request already in the socket: the work after the answer delayed it
            fd = protocol.transport.get_extra_info("socket").fileno()
            waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except (AttributeError, OSError):
            pass
        points = " ".join(
            f"{point}={(value - start) // 1000}"
            for point, value in _current.items()
            if point not in ("method", "arrived")
        )
        _lines.append(f"method={_current['method']} {points} next_waiting={int(waiting > 0)}\n")
        if len(_lines) >= 200:
            _flush()

    for operation, handler in list(HANDLERS.items()):

        def timed(handler: Callable[..., Any] = handler) -> Callable[..., Any]:
            async def run(ctx: Any) -> Any:
                _mark("handler")
                try:
                    return await handler(ctx)
                finally:
                    _mark("handler_end")

            return run

        HANDLERS[operation] = timed()
    for name in ("put_object", "get_object"):
        _entered(mapped.MappedStorage, name, "storage")
        _entered(s3.S3Upstream, name, "backend")
    _entered(s3_transport.S3Transport, "_send_native", "signed")

    exchange = upstream_pool._exchange

    async def _exchange(*args: Any, **kwargs: Any) -> Any:
        _mark("upstream_write")
        response = await exchange(*args, **kwargs)
        _mark("upstream_head")
        return response

    upstream_pool._exchange = _exchange

    answered = upstream_http.Connection.data_received

    def upstream_data(self: Any, data: bytes) -> None:
        _mark("upstream_bytes")
        answered(self, data)

    upstream_http.Connection.data_received = upstream_data  # type: ignore[method-assign]

    write = uvicorn_engine.ConnectionWriter.write

    def client_write(self: Any, data: bytes) -> None:
        write(self, data)
        if self.held is None:
            _current["answered"] = _now()  # the last write of the answer

    uvicorn_engine.ConnectionWriter.write = client_write  # type: ignore[method-assign]


class _AfterServerImport(importlib.abc.MetaPathFinder):
    """Installs the probe right after ``s3proxy.server`` is imported (the proxy's modules are
    all loaded by then, and no request has been served)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "s3proxy.server":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        loader: Any = spec.loader
        execute = loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            _install()

        loader.exec_module = exec_module
        return spec


if OUT:
    atexit.register(_flush)
    sys.meta_path.insert(0, _AfterServerImport())
