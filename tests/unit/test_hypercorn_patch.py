"""What the Hypercorn adjustments put on the wire, driven through the patched send path."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from hypercorn.events import RawData
from hypercorn.protocol.h11 import H11Protocol

from s3proxy.hypercorn_patch import add_informational_reasons


class _Connection:
    """The two attributes of an H11Protocol that the send path uses."""

    def __init__(self) -> None:
        self.connection = h11.Connection(h11.SERVER)
        self.connection.receive_data(b"GET /b/k HTTP/1.1\r\nHost: x\r\n\r\n")
        assert isinstance(self.connection.next_event(), h11.Request)
        self.writes: list[bytes] = []

    async def send(self, event: Any) -> None:
        assert isinstance(event, RawData)
        self.writes.append(event.data)


def _send(protocol: _Connection, *events: Any) -> None:
    add_informational_reasons()

    async def run() -> None:
        for event in events:
            await H11Protocol._send_h11_event(protocol, event)  # type: ignore[arg-type]

    asyncio.run(run())


def test_a_small_response_leaves_in_one_write_head_first() -> None:
    protocol = _Connection()
    head = h11.Response(status_code=200, headers=[(b"content-length", b"4")])
    _send(protocol, head, h11.Data(data=b"body"), h11.EndOfMessage())
    first = protocol.writes[0]
    assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(b"\r\n\r\nbody")
    assert b"".join(protocol.writes[1:]) == b""  # nothing else but empty framing


def test_a_response_without_body_is_written_at_its_end() -> None:
    protocol = _Connection()
    _send(protocol, h11.Response(status_code=204, headers=[]), h11.EndOfMessage())
    assert len(protocol.writes) == 1 and protocol.writes[0].startswith(b"HTTP/1.1 204 ")


def test_informational_responses_carry_their_reason() -> None:
    protocol = _Connection()
    _send(protocol, h11.InformationalResponse(status_code=100, headers=[]))
    assert protocol.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
