"""The client connection's transport as the uvicorn engine's protocol and request cycles see
it: the response head held back to share a write with the first body bytes, and a lingering
close. Split from the engine; :mod:`s3proxy.uvicorn_protocol` builds one per connection."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from s3proxy.uvicorn_protocol import S3Protocol

LINGER_SECONDS = 2.0
"""How long a connection closed with request bytes still coming keeps reading (and dropping)
them after its answer (nginx's lingering close): closing at once would make the kernel reset
the connection, which can destroy the answer before the client reads it."""

COALESCE_LIMIT = 64 * 1024
"""A held response head is joined to a first body write up to this size, else written beside it
(``writelines``) instead of copying the body."""


class ConnectionWriter:
    """The transport as uvicorn's protocol and request cycles see it: a response head is held
    back to go out in one write with the first body bytes (two socket sends for a small
    response otherwise, as in hypercorn_patch), and a close with request bytes still coming is
    a lingering close (:data:`LINGER_SECONDS`)."""

    __slots__ = ("held", "lingering", "protocol", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: S3Protocol) -> None:
        self.transport = transport
        self.protocol = protocol
        self.held: bytes | None = None
        self.lingering = False

    def hold(self) -> None:
        self.held = b""

    def write(self, data: bytes) -> None:
        held = self.held
        if held is None:
            self.transport.write(data)
        elif held == b"":
            self.held = data  # the head
        else:
            self.held = None
            if len(data) <= COALESCE_LIMIT:
                self.transport.write(held + data)
            else:
                self.transport.writelines((held, data))

    def flush(self) -> None:
        held, self.held = self.held, None
        if held and not self.transport.is_closing():
            self.transport.write(held)

    def abort(self) -> None:
        """Close at once, dropping what is buffered (a client that stopped reading)."""
        self.held = None
        self.transport.abort()

    def is_closing(self) -> bool:
        return self.lingering or self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        """What waits to go (s3proxy.stalled_answers.unsent); a held head is a few bytes."""
        return self.transport.get_write_buffer_size()

    def close(self) -> None:
        self.flush()
        transport = self.transport
        if self.lingering or transport.is_closing():
            return
        if not (self.protocol.expects_more_input() and transport.can_write_eof()):
            transport.close()
            return
        self.lingering = True
        transport.write_eof()  # the answer, then FIN; what the client still sends is dropped
        self.protocol.flow.resume_reading()
        self.protocol.loop.call_later(LINGER_SECONDS, transport.close)
