"""The response value handlers return, and the one function that sends it over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class S3Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | AsyncIterator[bytes] = b""
    close: Callable[[], Awaitable[None]] | None = None
    """Awaited after sending, whatever happened (releases an upstream connection)."""
    content_length: int | None = None
    """Content-Length to announce when it is not ``len(body)``: streamed bodies and HEAD."""


def xml_response(body: bytes, status: int = 200) -> S3Response:
    return S3Response(status=status, headers=[("Content-Type", "application/xml")], body=body)


async def send_response(
    send: Send, response: S3Response, *, head: bool, extra_headers: list[tuple[bytes, bytes]]
) -> int:
    """Send ``response``; return the number of body bytes sent.

    A streamed body that raises part-way propagates the exception: the ASGI server then drops
    the connection, so the client sees a broken transfer rather than a short 200.
    """
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
    ]
    headers.extend(extra_headers)
    body = response.body
    length = response.content_length
    if length is None and isinstance(body, bytes):
        length = len(body)
    if length is not None and response.status not in (204, 304):
        headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if isinstance(body, bytes):
        await send({"type": "http.response.body", "body": b"" if head else body})
        return 0 if head else len(body)
    if head:
        await send({"type": "http.response.body", "body": b""})
        return 0
    # One chunk is held back so that the last one goes out as the end of the body: one ASGI
    # message (and one pass through the server's send path) fewer per streamed response, which
    # is most of a small GET's body cost.
    sent = 0
    held = b""
    async for chunk in body:
        if not chunk:
            continue
        if held:
            await send({"type": "http.response.body", "body": held, "more_body": True})
            sent += len(held)
        held = chunk
    await send({"type": "http.response.body", "body": held})
    return sent + len(held)
