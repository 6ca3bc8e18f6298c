"""Where a chunked request that began in an earlier read ends in the current one
(s3proxy.uvicorn_pipeline.ChunkedShadow, wave 14 E): what lets a read that begins inside a
chunked body be split at a request's start when the connection's queue fills."""

from __future__ import annotations

from s3proxy.uvicorn_pipeline import ChunkedShadow, message_start

GET = b"GET /b/g HTTP/1.1\r\nHost: h\r\n\r\n"
CHUNKED = b"PUT /b/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_the_shadow_finds_a_chunked_bodys_end_from_any_read_boundary() -> None:
    """Wherever a read boundary falls inside a chunked request (chunk line, extension, data,
    last chunk, trailers), the shadow that followed it to there finds its end in the next read
    exactly, and the requests after it are counted from there."""
    body = b"5;e=1\r\nhello\r\nA\r\n" + b"0123456789" + b"\r\n0;x=y\r\nx-t: v\r\n\r\n"
    request = CHUNKED + body
    for split in range(len(CHUNKED), len(request)):
        shadow = ChunkedShadow(request[:split])
        rest = request[split:] + GET * 3
        assert message_start(rest, 3, shadow) == len(request) - split + 2 * len(GET), split
    assert message_start(GET, 0, ChunkedShadow(request[:-3])) is None
