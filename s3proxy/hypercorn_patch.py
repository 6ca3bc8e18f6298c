"""Adjustments to Hypercorn's HTTP/1.1: what real clients need on the status line, S3 errors for
requests refused below the S3 layer, a response head sent with the first body bytes, a larger
socket read for upload bodies, and a lingering close and an abort of a connection whose client
stopped reading (:mod:`s3proxy.hypercorn_closing`), as on uvicorn.

Hypercorn writes status lines without a reason phrase (``HTTP/1.1 400 \\r\\n``). That is valid
HTTP, but the botocore inside Debian 12's aws-cli v2 (2.9) only recognises a 100 status line of
three words, and botocore's ``Expect: 100-continue`` handling reads an early final answer the
same way: without a reason, an early error on an upload becomes ConnectionClosedError instead of
the S3 error. S3 always sends the reason (``HTTP/1.1 100 Continue``, ``HTTP/1.1 400 Bad
Request``), so the proxy does too, on every status line.

Hypercorn answers a request h11 cannot parse (header section too large, bad framing) with an
empty body; S3 clients then show a bare status. Those answers carry S3's XML error document.

A request with both Content-Length and ``Transfer-Encoding: chunked`` is ambiguous framing, the
shape of request smuggling: h11 would read it as chunked while something in front of the proxy
may have read the Content-Length. RFC 9112 §6.3 lets a server refuse it; the proxy does, with
400 and a closed connection, before the application sees the request, so nothing is stored.
What else h11 reads more leniently than llhttp (the uvicorn engine's parser) is refused as there
(:mod:`s3proxy.strict_head`); no Upgrade is served (a WebSocket GET is plain HTTP); a request
read whole before the client's half-close is answered before the connection closes.

The patches live by concern: the status line, the read size and the ASGI send rules here; the
refusals of bad heads in :mod:`s3proxy.hypercorn_refusals`; how a connection ends in
:mod:`s3proxy.hypercorn_closing`; the error answers in :mod:`s3proxy.http_errors` (shared with
the uvicorn engine). :func:`install` applies them all.
"""

from __future__ import annotations

import asyncio
import functools
import http
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import hypercorn.asyncio.task_group
import hypercorn.asyncio.tcp_server
from h11._headers import Headers
from hypercorn.events import RawData
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import HTTPStream

from s3proxy import strict_head
from s3proxy.http_errors import AMBIGUOUS_FRAMING, ClientGone, below_s3_error, error_response
from s3proxy.hypercorn_closing import (
    IdleTimer,
    abort_stalled_sends,
    cheaper_idle_timer,
    linger_on_close,
)
from s3proxy.hypercorn_continue import continue_on_first_read
from s3proxy.hypercorn_refusals import add_s3_error_bodies, http1_only

__all__ = [
    "AMBIGUOUS_FRAMING",
    "SOCKET_READ",
    "ClientGone",
    "IdleTimer",
    "abort_stalled_sends",
    "add_informational_reasons",
    "add_s3_error_bodies",
    "below_s3_error",
    "cheaper_idle_timer",
    "disconnect_without_waiting",
    "error_response",
    "http1_only",
    "install",
    "linger_on_close",
    "raise_on_send_after_close",
    "read_larger_chunks",
    "reason",
]

_PATCHED = "_s3proxy_patched"


def reason(status: int) -> bytes:
    """The standard reason phrase of ``status`` (``Unknown`` for a code HTTP does not name)."""
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b"Unknown"


def _with_reason(event: Any) -> Any:
    """``event`` with its status's reason phrase. The headers, which h11 checked when
    Hypercorn built the event, go on as an h11 ``Headers`` value (names lower-case on the wire,
    as before): a plain list would have every header normalised and validated a second time,
    17 → 5 µs per response (microbenchmark, 8 headers)."""
    if isinstance(event, h11.InformationalResponse) and not event.reason:
        return h11.InformationalResponse(
            status_code=event.status_code,
            headers=_checked(event.headers),
            reason=_reason(event.status_code),
        )
    if isinstance(event, h11.Response) and not event.reason:
        return h11.Response(
            status_code=event.status_code,
            headers=_checked(event.headers),
            reason=_reason(event.status_code),
        )
    return event


def _checked(headers: Headers) -> Headers:
    return Headers([(name, name, value) for name, value in headers])


@functools.cache
def _reason(status: int) -> bytes:
    return reason(status)


def add_informational_reasons() -> None:
    """Wrap ``H11Protocol._send_h11_event`` once per process (idempotent): a reason phrase on
    every status line, and a response head held back to go out with the first body bytes."""
    original: Callable[[Any, Any], Awaitable[None]] = H11Protocol._send_h11_event
    if getattr(original, _PATCHED, False):
        return

    async def send(self: Any, event: Any) -> None:
        event = _with_reason(event)
        if isinstance(event, h11.Response):
            # Hypercorn writes the head, then each body chunk: two socket sends for a small
            # response. Hypercorn always follows a head with body data or the end of the
            # message, so the head waits for that and both go in one write.
            try:
                self._s3proxy_head = self.connection.send(event)
            except h11.LocalProtocolError:
                if self.connection.their_state != h11.ERROR:
                    raise
            return
        head = getattr(self, "_s3proxy_head", None)
        if head is None:
            await original(self, event)
            return
        self._s3proxy_head = None
        try:
            data = self.connection.send(event)
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            data = b""
        await self.send(RawData(data=head + data if data else head))

    setattr(send, _PATCHED, True)
    H11Protocol._send_h11_event = send  # type: ignore[method-assign]


SOCKET_READ = 256 * 1024
"""Hypercorn reads each connection 64 KiB at a time; every read is copied into h11's buffer and
becomes one ASGI body message. 256 KiB reads cut the proxy's CPU per uploaded GB by 16 % (all 4
interleaved pairs of BENCHMARKS.md's profile run; GET unchanged). Backpressure stays: Hypercorn
queues at most ``max_app_queue_size`` body messages per request (4 in server.py: 1 MiB)."""


def read_larger_chunks() -> None:
    hypercorn.asyncio.tcp_server.MAX_RECV = SOCKET_READ


def raise_on_send_after_close() -> None:
    """ASGI's "Disconnected Client" rule: send() on a closed connection raises an OSError.
    Hypercorn instead drops the message and returns, so an abandoned download went on reading
    its whole body from the upstream into a dead socket (asyncio warning at every write) and
    was logged as a complete 200. Idempotent."""
    original: Callable[[Any, Any], Awaitable[None]] = HTTPStream.app_send
    if getattr(original, _PATCHED, False):
        return

    async def app_send(self: Any, message: Any) -> None:
        if self.closed and message is not None and message["type"].startswith("http.response"):
            raise ClientGone("the client closed the connection")
        await original(self, message)

    setattr(app_send, _PATCHED, True)
    HTTPStream.app_send = app_send  # type: ignore[method-assign]


def disconnect_without_waiting() -> None:
    """Hypercorn tells the application that a request is over by queueing ``http.disconnect``
    behind the body messages it has not read yet, waiting for room, in the task that sent the
    response's last message. An application that answered without reading its whole body (an
    upstream that died mid-PUT: 503) fills that queue, so its last send waited for itself:
    the request hung, the client's body stalled, and the client gave up after its own read
    timeout (~60 s for aws-cli and boto3). The request is over, so when the queue is full its
    unread body messages are dropped and ``http.disconnect`` never waits. Idempotent."""
    original: Callable[..., Awaitable[Callable[[Any], Awaitable[None]]]]
    original = hypercorn.asyncio.task_group.TaskGroup.spawn_app
    if getattr(original, _PATCHED, False):
        return

    async def spawn_app(self: Any, *args: Any) -> Callable[[Any], Awaitable[None]]:
        put = await original(self, *args)
        queue = getattr(put, "__self__", None)
        if not isinstance(queue, asyncio.Queue):
            return put

        async def app_put(message: Any) -> None:
            if message["type"] == "http.disconnect":
                if queue.full():  # emptied, not just one slot: Hypercorn's reader, waiting
                    while not queue.empty():  # to put one more body message, must get room
                        queue.get_nowait()
                queue.put_nowait(message)  # no await since the check: nothing refilled it
                return
            await put(message)

        return app_put

    setattr(spawn_app, _PATCHED, True)
    hypercorn.asyncio.task_group.TaskGroup.spawn_app = spawn_app  # type: ignore[method-assign,assignment]


def install() -> None:
    """Every adjustment above, and h11 reading request heads as llhttp does
    (:mod:`s3proxy.strict_head`), once per process."""
    strict_head.install()
    add_informational_reasons()
    add_s3_error_bodies()
    continue_on_first_read()  # wraps the stream creation add_s3_error_bodies guards
    http1_only()
    read_larger_chunks()
    raise_on_send_after_close()
    disconnect_without_waiting()
    cheaper_idle_timer()
    linger_on_close()
    abort_stalled_sends()
