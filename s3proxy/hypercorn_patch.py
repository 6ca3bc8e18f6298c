"""Adjustments to Hypercorn's HTTP/1.1: one fix that real clients need, a response head sent
with the first body bytes, and a larger socket read for upload bodies.

Hypercorn answers ``Expect: 100-continue`` with ``HTTP/1.1 100 \\r\\n``: a status line with no
reason phrase. That is valid HTTP, but the botocore inside Debian 12's aws-cli v2 (2.9) only
recognises a 100 status line of three words; it takes the 100 for the final response and every
PutObject and UploadPart fails. S3 itself sends ``HTTP/1.1 100 Continue``, so the proxy does
too: informational responses without a reason get the standard one.
"""

from __future__ import annotations

import http
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import hypercorn.asyncio.tcp_server
from hypercorn.events import RawData
from hypercorn.protocol.h11 import H11Protocol

_PATCHED = "_s3proxy_reasons"


def add_informational_reasons() -> None:
    """Wrap ``H11Protocol._send_h11_event`` once per process (idempotent): informational
    reasons, and a response head held back to go out with the first body bytes."""
    original: Callable[[Any, Any], Awaitable[None]] = H11Protocol._send_h11_event
    if getattr(original, _PATCHED, False):
        return

    async def send(self: Any, event: Any) -> None:
        if isinstance(event, h11.InformationalResponse) and not event.reason:
            event = h11.InformationalResponse(
                status_code=event.status_code,
                headers=list(event.headers),
                reason=http.HTTPStatus(event.status_code).phrase,
            )
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
