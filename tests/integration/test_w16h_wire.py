"""Hostile input on the wire, wave 16 (H): one reading of the wire on both engines, against the
local store (framing is decided before any backend call).

- Trailer fields of a chunked body are never request headers: on uvicorn, fields that came in
  the head's read were appended to the scope's header list and stored with the object
  (``Content-Type: text/html`` sent after the body, unsigned and invisible to anything that
  filters headers in front).
- A chunk line or trailer section llhttp refuses is refused on Hypercorn too (strict_head): a
  chunk size followed by a space, a bare ``;``, a framing field among the trailers.
- What llhttp serves, Hypercorn serves too: runs of spaces in the request line, a bare LF
  before it.
- An aws-chunked upload with neither Content-Length nor Transfer-Encoding carries no body: S3's
  411 MissingContentLength (it was 400 IncompleteBody), nothing stored.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, exchange, signed_head
from tests.integration.test_http_layer import error_code, split
from tests.support.s3http import aws_chunked_headers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=ENGINES)
def wire_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    proxy = start_proxy(
        None, None, tmp_path_factory.mktemp("w16h"), server={"engine": request.param}
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def new_key() -> str:
    return "w16h/" + os.urandom(4).hex()


def chunked_put(proxy: Proxy, key: str, body: bytes) -> bytes:
    """A signed PUT of ``key`` whose chunked body is ``body``, sent in one write with a close."""
    head = signed_head(
        proxy,
        "PUT",
        key,
        {"Transfer-Encoding": "chunked", "Connection": "close"},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    return exchange(proxy, head + body)


def test_trailer_fields_are_not_stored_as_headers(wire_proxy: Proxy) -> None:
    key = new_key()
    trailers = b"Content-Type: text/html\r\nCache-Control: no-store\r\nX-Amz-Meta-Late: 1\r\n"
    reply = chunked_put(wire_proxy, key, b"5\r\nhello\r\n0\r\n" + trailers + b"\r\n")
    assert split(reply)[0] == b"HTTP/1.1 200 OK", reply
    stored = wire_proxy.client("alice").get_object(Bucket="docs", Key=key)
    assert stored["Body"].read() == b"hello"
    assert stored["ContentType"] == "binary/octet-stream"
    assert "CacheControl" not in stored and stored["Metadata"] == {}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"5 \r\nhello\r\n0\r\n\r\n", 400, "InvalidRequest"),
        (b"5;\r\nhello\r\n0\r\n\r\n", 400, "InvalidRequest"),
        (b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", 400, "InvalidRequest"),
        (b"5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "NotImplemented"),
    ],
    ids=["space-after-size", "bare-semicolon", "content-length-trailer", "coding-trailer"],
)
def test_chunk_framing_llhttp_refuses_is_refused_on_both(
    wire_proxy: Proxy, body: bytes, status: int, code: str
) -> None:
    key = new_key()
    reply = chunked_put(wire_proxy, key, body)
    assert reply.count(b"HTTP/1.1 ") == 1, reply
    status_line, headers, xml = split(reply)
    assert (int(status_line.split()[1]), error_code(xml)) == (status, code)
    assert headers["connection"] == "close"
    listing = wire_proxy.client("alice").list_objects_v2(Bucket="docs", Prefix=key)
    assert listing["KeyCount"] == 0


def test_an_aws_chunked_upload_without_any_length_is_411(wire_proxy: Proxy) -> None:
    key = new_key()
    data = b"x" * 100
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    head = signed_head(
        wire_proxy,
        "PUT",
        key,
        {**aws_chunked_headers(len(data), "x-amz-checksum-crc32"), "Connection": "close"},
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
    wire = b"64\r\n" + data + b"\r\n0\r\nx-amz-checksum-crc32:" + crc.encode() + b"\r\n\r\n"
    status_line, _, xml = split(exchange(wire_proxy, head + wire))
    assert (status_line, error_code(xml)) == (
        b"HTTP/1.1 411 Length Required",
        "MissingContentLength",
    )
    listing = wire_proxy.client("alice").list_objects_v2(Bucket="docs", Prefix=key)
    assert listing["KeyCount"] == 0


@pytest.mark.parametrize(
    "change",
    [(b"GET /", b"GET   /"), (b" HTTP/1.1\r\n", b"   HTTP/1.1\r\n"), (b"GET", b"\nGET")],
    ids=["spaces-before-target", "spaces-before-version", "bare-lf-before"],
)
def test_what_llhttp_serves_is_served_on_both(
    wire_proxy: Proxy, change: tuple[bytes, bytes]
) -> None:
    """Runs of spaces in the request line and a bare LF before it (llhttp's leniencies, which
    RFC 9112 §2.2 and §3 allow): served on uvicorn, 400 on Hypercorn until now."""
    key = new_key()
    wire_proxy.client("alice").put_object(Bucket="docs", Key=key, Body=b"both")
    head = signed_head(wire_proxy, "GET", key, {"Connection": "close"})
    reply = exchange(wire_proxy, head.replace(*change, 1))
    assert split(reply)[0] == b"HTTP/1.1 200 OK" and reply.endswith(b"both"), reply[:300]
