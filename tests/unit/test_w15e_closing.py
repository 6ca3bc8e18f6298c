"""A connection the client has half-closed closes as soon as its last answer is written
(wave 15 E).

A refusal that closes the connection closes it lingering (s3proxy.connection_writer): the
answer, then FIN, then what the client still sends is read and dropped for LINGER_SECONDS, so
that unread request bytes do not make the kernel reset the answer away. Once the client has
half-closed there is nothing left to read, yet the uvicorn engine lingered anyway when the
half-close came before the refusal was written (a request refused behind others still being
answered, or in bytes kept while the pipelining queue was full): asyncio stops reading at the
end of input, so the linger ran its whole 2 s, holding the socket and the client's connection
slot. Now such a connection closes once the refusal is written (asyncio's close sends what is
buffered first, so the answer is whole)."""

from __future__ import annotations

import asyncio

from tests.unit.test_uvicorn_engine import RecordingTransport, app_answering, connect
from tests.unit.test_w14e_pipeline_fuzz import CHUNKED, GET, answers_in

REFUSED = CHUNKED + b"1\n\x00\r\n0\r\n\r\n"
"""A chunked PUT refused inside its body (a bare LF ends a chunk line): 400."""


def half_closed_after(data: bytes) -> tuple[RecordingTransport, list[int]]:
    async def go() -> tuple[RecordingTransport, list[int]]:
        protocol, transport = connect(app_answering([]))
        protocol.data_received(data)
        assert protocol.eof_received()  # answers still due: kept open to send them
        for _ in range(200):
            await asyncio.sleep(0)
        return transport, [status for status, _ in answers_in(b"".join(transport.writes))]

    return asyncio.run(go())


def test_a_refusal_behind_answers_closes_at_once_after_a_half_close() -> None:
    transport, statuses = half_closed_after(GET * 2 + REFUSED)
    assert statuses == [200, 200, 400]
    assert transport.closed and not transport.eof  # closed, not lingering half-open


def test_a_refusal_without_a_half_close_still_lingers() -> None:
    async def go() -> RecordingTransport:
        protocol, transport = connect(app_answering([]))
        protocol.data_received(GET * 2 + REFUSED)
        for _ in range(200):
            await asyncio.sleep(0)
        return transport

    transport = asyncio.run(go())
    assert transport.eof and not transport.closed  # the client may still be sending
