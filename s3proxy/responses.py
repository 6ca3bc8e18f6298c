"""The response value handlers return, and the one function that sends it over ASGI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
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
    bytes_sent: int = 0
    """Body bytes a cancellation (the shutdown timeout) found sent, set by :func:`send_response`
    as it lets the cancellation through: what the access line of a cut answer counts."""
    prompt: bool = False
    """Send each body chunk as it comes, none held back to end the body with: an early answer's
    whitespace (s3proxy.early_answer) must reach its client while the work goes on."""


class ResponseAborted(Exception):
    """The response stopped part-way (see :func:`send_response`)."""

    def __init__(self, sent: int, *, client_gone: bool) -> None:
        super().__init__(f"response aborted after {sent} body bytes")
        self.sent = sent
        self.client_gone = client_gone


def xml_response(body: bytes, status: int = 200) -> S3Response:
    return S3Response(status=status, headers=[("Content-Type", "application/xml")], body=body)


CHUNK_CHARS = 64 * 1024
"""About how much of an answer is rendered and encoded at once (characters; one ASGI message).
A listing page of 1,000 keys of 1,024 '&' is ~5 MiB of XML; rendered whole it was held in the
connection's write buffer until a slow client read it, past the request's slot (the uvicorn
engine's ``send`` buffers a last message without waiting). In chunks, each waits for the buffer
to drain below its high-water mark, so a slow reader holds about two chunks, not the answer."""


def encoded_chunks(pieces: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[bytes]:
    """``pieces`` joined and UTF-8 encoded in chunks of about ``size`` characters or more (a
    piece is never split); the last chunk may be shorter. Lazy: a chunk's pieces are rendered
    only when the previous chunk has been taken."""
    held: list[str] = []
    append = held.append
    length = 0
    for piece in pieces:
        append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(held).encode()
            held.clear()
            length = 0
    if held:
        yield "".join(held).encode()


def rendered(pieces: Iterable[str]) -> bytes:
    """A whole document from its pieces (the chunks :func:`encoded_chunks` would send)."""
    return b"".join(encoded_chunks(pieces))


def xml_stream(pieces: Iterable[str]) -> S3Response:
    """A 200 XML answer sent as its ``pieces`` are rendered, in :func:`encoded_chunks`.

    The first two chunks are rendered here: an answer of one chunk (most answers) is sent
    whole with its Content-Length, as before. A larger one goes out chunked (no Content-Length,
    as S3 sends its listings), each chunk rendered only once the previous one was handed to the
    server, whose ``send`` waits while the connection's write buffer is over its high-water
    mark: a client that reads slowly holds about two chunks and the rendered-from data (the
    page), under its request slot, instead of the whole document in the write buffer. Every
    byte of the answer comes from data already in hand, so nothing upstream can fail once the
    head is out; a rendering that raises part-way aborts the connection (send_response), the
    client sees a cut transfer, never a clean short document."""
    chunks = encoded_chunks(pieces)
    first = next(chunks, b"")
    second = next(chunks, None)
    if second is None:
        return xml_response(first)
    return S3Response(
        headers=[("Content-Type", "application/xml")], body=_sent(first, second, chunks)
    )


async def _sent(first: bytes, second: bytes, rest: Iterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    yield second
    for chunk in rest:
        yield chunk


async def send_response(
    send: Send, response: S3Response, *, head: bool, extra_headers: list[tuple[bytes, bytes]]
) -> int:
    """Send ``response``; return the number of body bytes sent.

    A response that cannot be finished raises :class:`ResponseAborted`, saying how many body
    bytes went out and whether the client left (its connection closed) or the body failed (a
    streamed body that raised part-way, whose exception is the ``__cause__``).
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
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if isinstance(body, bytes) or head:
            data = b"" if head or not isinstance(body, bytes) else body
            await send({"type": "http.response.body", "body": data})
            return len(data)
    except OSError as exc:  # ASGI: send() on a closed connection raises an OSError
        raise ResponseAborted(0, client_gone=True) from exc
    # One chunk is held back so that the last one goes out as the end of the body: one ASGI
    # message (and one pass through the server's send path) fewer per streamed response, which
    # is most of a small GET's body cost.
    sent = 0
    held = b""
    sending = False  # whether an exception came from send() (the client) or the body (upstream)
    try:
        async for chunk in body:
            if not chunk:
                continue
            if held:
                sending = True
                await send({"type": "http.response.body", "body": held, "more_body": True})
                sending = False
                sent += len(held)
            held = chunk
            if response.prompt:
                sending = True
                await send({"type": "http.response.body", "body": held, "more_body": True})
                sending = False
                sent += len(held)
                held = b""
        sending = True
        await send({"type": "http.response.body", "body": held})
    except Exception as exc:
        raise ResponseAborted(sent, client_gone=sending and isinstance(exc, OSError)) from exc
    except asyncio.CancelledError:
        response.bytes_sent = sent
        raise
    return sent + len(held)
