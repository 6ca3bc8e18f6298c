"""Malformed framing answered the same way on both engines (wave 18, I2).

Helper I's raw-socket probes found three requests the engines (uvicorn: llhttp; Hypercorn: h11
with s3proxy.strict_head) answered differently:

- a Content-Length of more than 20 characters, zero-padded: uvicorn read ``0…05`` as 5 and
  stored the body (200), Hypercorn refused it (h11 reads at most 20 characters: 2**64 has 20
  digits). Now 400 InvalidRequest on both, nothing stored. A chunk size of 17 or more hex digits,
  zero-padded, went the other way: uvicorn read it by its value, Hypercorn refused more than 16
  digits in all; now both read it by its value (a chunk line is framing only, never signed);
- Content-Length with ``Transfer-Encoding: identity``: uvicorn 400 (ambiguous framing) when the
  Content-Length came first, Hypercorn 501. Now both judge the framing headers in the order they
  come, as llhttp does (strict_head.framing_error): a Transfer-Encoding after a Content-Length is
  400 ambiguous framing, an unknown coding before it 501 NotImplemented; both close;
- bytes after a request that no request line can continue (``XYZ``, with no line end): uvicorn
  answered 400 at once, Hypercorn waited for a line end until its keep-alive timeout. Now both
  answer at once (``FOO `` with its space: 405 MethodNotAllowed, as for a whole ``FOO`` request).

Framing comes before any backend call, so a local store serves these (as test_w18i_wire does).
"""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from s3proxy.http_errors import AMBIGUOUS_FRAMING
from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, signed_head
from tests.integration.test_http_layer import split

pytestmark = pytest.mark.integration

TIMEOUT = 30
KEEP_ALIVE = 120
"""Past the client's socket timeout: an answer that waits for the keep-alive timeout (as
Hypercorn's did) never comes within it, and the test fails rather than passing late."""


@pytest.fixture(scope="module", params=ENGINES)
def engine_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    proxy = start_proxy(
        None,
        None,
        tmp_path_factory.mktemp("w18i2"),
        server={"engine": request.param, "keep_alive_timeout": KEEP_ALIVE},
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def answers(proxy: Proxy, data: bytes) -> list[tuple[int, str | None, str]]:
    """Status, S3 error code and message of each answer to ``data``, read until the proxy
    closes the connection; the client never ends its input (a half-close would end a waiting
    read too, and hide one that waits)."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    out = []
    for part in reply.split(b"HTTP/1.1 ")[1:]:
        status_line, _, body = split(b"HTTP/1.1 " + part)
        error = ET.fromstring(body) if body.startswith(b"<?xml") else None
        code = None if error is None else error.findtext("Code")
        message = "" if error is None else error.findtext("Message") or ""
        out.append((int(status_line.split()[1]), code, message))
    return out


def put_head(proxy: Proxy, key: str) -> bytes:
    """A signed PUT head without its blank line: framing headers follow."""
    return signed_head(proxy, "PUT", key, {}, payload_hash="UNSIGNED-PAYLOAD")[:-2]


def body_of(proxy: Proxy, key: str) -> bytes | None:
    client = proxy.client("alice")
    if not client.list_objects_v2(Bucket="docs", Prefix=key).get("KeyCount"):
        return None
    data: bytes = client.get_object(Bucket="docs", Key=key)["Body"].read()
    return data


def new_key(name: str) -> str:
    return f"w18i2/{name}-" + os.urandom(4).hex()


@pytest.mark.parametrize(("zeros", "stored"), [(19, True), (20, False), (5000, False)])
def test_a_zero_padded_content_length_over_20_characters_is_refused_on_both(
    engine_proxy: Proxy, zeros: int, stored: bool
) -> None:
    key = new_key("padded")
    length = b"0" * zeros + b"5"
    head = put_head(engine_proxy, key) + b"Content-Length: " + length + b"\r\n"
    data = head + b"Connection: close\r\n\r\nhello"
    if stored:
        assert [status for status, _, _ in answers(engine_proxy, data)] == [200]
        assert body_of(engine_proxy, key) == b"hello"
    else:
        assert [status_code[:2] for status_code in answers(engine_proxy, data)] == [
            (400, "InvalidRequest")
        ]
        assert body_of(engine_proxy, key) is None


@pytest.mark.parametrize("digits", [17, 21, 40])
def test_a_zero_padded_chunk_size_is_read_by_its_value_on_both(
    engine_proxy: Proxy, digits: int
) -> None:
    key = new_key("chunk")
    size = b"0" * (digits - 1) + b"5"
    head = put_head(engine_proxy, key) + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    data = head + size + b"\r\nhello\r\n" + b"0" * digits + b"\r\n\r\n"
    assert [status for status, _, _ in answers(engine_proxy, data)] == [200]
    assert body_of(engine_proxy, key) == b"hello"


def test_a_chunk_size_of_17_significant_digits_is_still_refused_on_both(
    engine_proxy: Proxy,
) -> None:
    key = new_key("chunk-over")
    head = put_head(engine_proxy, key) + b"Transfer-Encoding: chunked\r\n\r\n"
    data = head + b"0010000000000000005\r\nhello\r\n0\r\n\r\n"
    assert [answer[:2] for answer in answers(engine_proxy, data)] == [(400, "InvalidRequest")]
    assert body_of(engine_proxy, key) is None


@pytest.mark.parametrize(
    ("framing", "expected"),
    [
        (b"Content-Length: 5\r\nTransfer-Encoding: identity\r\n", (400, "InvalidRequest")),
        (b"Content-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n", (400, "InvalidRequest")),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", (400, "InvalidRequest")),
        (b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n", (501, "NotImplemented")),
        (b"Transfer-Encoding: identity\r\n", (501, "NotImplemented")),
    ],
    ids=["cl-then-identity", "cl-then-gzip-chunked", "chunked-then-cl", "identity-then-cl", "te"],
)
def test_framing_headers_are_judged_in_their_order_on_both(
    engine_proxy: Proxy, framing: bytes, expected: tuple[int, str]
) -> None:
    key = new_key("framing")
    got = answers(engine_proxy, put_head(engine_proxy, key) + framing + b"\r\nhello")
    assert [answer[:2] for answer in got] == [expected]
    if expected[0] == 400:
        assert got[0][2] == AMBIGUOUS_FRAMING
    assert body_of(engine_proxy, key) is None


@pytest.mark.parametrize(
    ("stray", "expected"),
    [
        (b"XYZ", (400, "InvalidRequest")),
        (b"}}", (400, "InvalidRequest")),
        (b"get", (400, "InvalidRequest")),
        (b"GETX", (400, "InvalidRequest")),
        (b"FOO ", (405, "MethodNotAllowed")),
        (b"\r\nFOO /x", (405, "MethodNotAllowed")),
    ],
)
def test_stray_bytes_after_a_body_are_refused_at_once_on_both(
    engine_proxy: Proxy, stray: bytes, expected: tuple[int, str]
) -> None:
    """The request before them is answered (and stored), then the stray bytes are refused and
    the connection closed, without waiting for more."""
    key = new_key("stray")
    data = put_head(engine_proxy, key) + b"Content-Length: 5\r\n\r\nhello" + stray
    got = answers(engine_proxy, data)
    assert [answer[:2] for answer in got] == [(200, None), expected]
    assert body_of(engine_proxy, key) == b"hello"


def test_a_request_start_that_may_go_on_is_waited_for_on_both(engine_proxy: Proxy) -> None:
    """``GE`` may still become ``GET``: read on, and the rest is served."""
    key = new_key("split")
    first = put_head(engine_proxy, key) + b"Content-Length: 5\r\n\r\nhello"
    with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(first + b"GE")
        reply = b""
        while b"\r\n\r\n" not in reply:  # the PUT's answer (no body): then the rest of GET
            chunk = sock.recv(65536)
            assert chunk, reply  # closed: "GE" was refused
            reply += chunk
        sock.sendall(
            b"T /docs/" + key.encode() + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        )
        while chunk := sock.recv(65536):
            reply += chunk
    statuses = [int(part.split()[0]) for part in reply.split(b"HTTP/1.1 ")[1:]]
    assert statuses[0] == 200 and len(statuses) == 2  # the GET answered (unsigned: 403)
    assert statuses[1] == 403
