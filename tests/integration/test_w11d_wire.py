"""The HTTP wire read one way on both engines (s3proxy.strict_head, uvicorn_engine.S3Protocol):
what one engine's parser refused and the other let through is refused by both, with S3's XML
error and a closed connection, never read as a request nor stored. Framing is decided before any
backend call, so a local store serves these (as test_engine does)."""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, head_bytes, signed_head
from tests.integration.test_http_layer import split
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

TIMEOUT = 30


@pytest.fixture(scope="module", params=ENGINES)
def wire_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    proxy = start_proxy(
        None, None, tmp_path_factory.mktemp("w11d"), server={"engine": request.param}
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def exchange(proxy: Proxy, data: bytes, *, half_close: bool = False) -> bytes:
    """Send ``data`` (then end the input if ``half_close``), read until the proxy closes."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


def refused(reply: bytes) -> tuple[int, str | None]:
    """Status and S3 code of a reply that must be the connection's only answer, closing it."""
    assert reply.count(b"HTTP/1.1 ") == 1, reply
    status_line, headers, body = split(reply)
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/xml"
    return int(status_line.split()[1]), ET.fromstring(body).findtext("Code")


def stored(proxy: Proxy, key: str) -> bool:
    listing = proxy.client("alice").list_objects_v2(Bucket="docs", Prefix=key)
    return bool(listing.get("KeyCount"))


SMUGGLED = b"GET /docs HTTP/1.1\r\nHost: h\r\n\r\n"
"""A request hidden in a body: it must never be answered."""

HEADS = {
    # a header folded onto the previous line: Hypercorn read "X-A: 1 Transfer-Encoding: chunked"
    "obs-fold": b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n",
    "bare-lf": b"PUT /docs/k HTTP/1.1\r\nHost: h\nX-A: 1\r\n",
    "control-character": b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nX-A: 1\x01\r\n",
    "delete-character": b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nX-A: 1\x7f\r\n",
    "content-length-twice": b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nContent-Length: 31\r\n",
    "content-length-list": b"PUT /docs/k HTTP/1.1\r\nHost: h\r\nContent-Length: 31, 31\r\n",
    "http-0.9": b"GET /docs\r\n",
    "http-1.2": b"GET /docs HTTP/1.2\r\nHost: h\r\n",
    "http-2.0": b"GET /docs HTTP/2.0\r\nHost: h\r\n",
    "no-host": b"GET /docs HTTP/1.1\r\nX-A: 1\r\n",
    "two-hosts": b"GET /docs HTTP/1.1\r\nHost: h\r\nHost: other.example\r\n",
}


@pytest.mark.parametrize("name", list(HEADS))
def test_a_head_one_parser_refused_is_refused_on_both(wire_proxy: Proxy, name: str) -> None:
    """Each was 400 on one engine and served (or read on) on the other. The body after the
    head is a request of its own: it is never answered."""
    head = HEADS[name]
    if name == "content-length-twice" or b"Content-Length" not in head:
        head += b"Content-Length: 31\r\n"  # the body: SMUGGLED
    assert refused(exchange(wire_proxy, head + b"\r\n" + SMUGGLED)) == (400, "InvalidRequest")


def test_a_tab_after_chunked_is_not_implemented_on_both(wire_proxy: Proxy) -> None:
    """llhttp refuses ``chunked<TAB>`` as an unknown coding; h11 stripped the tab and stored."""
    key = "w11d/tab-" + os.urandom(4).hex()
    head = signed_head(wire_proxy, "PUT", key, {}, payload_hash="UNSIGNED-PAYLOAD")
    head = head[:-2] + b"Transfer-Encoding: chunked\t\r\n\r\n"
    assert refused(exchange(wire_proxy, head + b"5\r\nhello\r\n0\r\n\r\n")) == (
        501,
        "NotImplemented",
    )
    assert not stored(wire_proxy, key)


@pytest.mark.parametrize(
    "target",
    ["http://other.example/docs/k", "/docs/k#fragment", "docs/k", "?a", "\\docs"],
    ids=["absolute", "fragment", "relative", "query-only", "backslash"],
)
def test_a_target_that_is_not_a_plain_path_is_invalid_uri(wire_proxy: Proxy, target: str) -> None:
    """uvicorn's parser dropped the scheme and authority, or the fragment, and served the rest;
    Hypercorn refused the first and made the fragment part of the key. A target that does not
    begin with ``/`` was InvalidRequest on uvicorn, InvalidURI on Hypercorn (wave 17, D)."""
    head = f"GET {target} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    assert refused(exchange(wire_proxy, head)) == (400, "InvalidURI")


@pytest.mark.parametrize(
    "chunks",
    [b"5\nhello\n0\n\n", b"10000000000000005\r\nhello\r\n0\r\n\r\n"],
    ids=["bare-lf-chunk-line", "chunk-size-over-64-bits"],
)
def test_a_chunk_line_llhttp_refuses_is_refused_on_both(wire_proxy: Proxy, chunks: bytes) -> None:
    """Hypercorn waited for a CRLF (or 2**68 bytes) that never came, until its timeout."""
    key = "w11d/chunk-" + os.urandom(4).hex()
    extra = {"Transfer-Encoding": "chunked"}
    head = signed_head(wire_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    assert refused(exchange(wire_proxy, head + chunks)) == (400, "InvalidRequest")
    assert not stored(wire_proxy, key)


def test_a_trailer_section_over_16_kib_is_too_large_on_both(wire_proxy: Proxy) -> None:
    """uvicorn counts trailers with the head; h11 took 40 KB of trailers in one read."""
    key = "w11d/trailer-" + os.urandom(4).hex()
    extra = {"Transfer-Encoding": "chunked"}
    head = signed_head(wire_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    body = b"5\r\nhello\r\n0\r\nX-T: " + b"a" * 40_000 + b"\r\n\r\n"
    assert refused(exchange(wire_proxy, head + body)) == (400, "RequestHeaderSectionTooLarge")
    assert not stored(wire_proxy, key)


@pytest.mark.parametrize(
    ("extra", "body"),
    [
        ({"Content-Length": "10"}, b"hello"),
        ({"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n0\r\n"),
    ],
    ids=["shorter-than-content-length", "chunked-without-its-end"],
)
def test_a_body_cut_short_by_a_half_close_is_refused(
    wire_proxy: Proxy, extra: dict[str, str], body: bytes
) -> None:
    """The client ends its input inside the body: Hypercorn answered 400, uvicorn closed without
    a word. Now both answer 400 and nothing is stored."""
    key = "w11d/short-" + os.urandom(4).hex()
    head = signed_head(wire_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    assert refused(exchange(wire_proxy, head + body, half_close=True)) == (400, "InvalidRequest")
    assert not stored(wire_proxy, key)


UPGRADES = {
    "h2c": {
        "Connection": "Upgrade, HTTP2-Settings",
        "Upgrade": "h2c",
        "HTTP2-Settings": "AAMAAABk",
    },
    "websocket": {"Connection": "Upgrade", "Upgrade": "websocket"},
}


@pytest.mark.parametrize("upgrade", list(UPGRADES))
def test_the_body_of_an_upgrade_request_is_its_body_never_a_request(
    wire_proxy: Proxy, upgrade: str
) -> None:
    """No upgrade is served, so the request is plain HTTP/1.1 and its Content-Length body is
    its body. uvicorn's parser ended the request at its head: the application read an empty
    body (400 IncompleteBody) and the body was parsed as requests of its own, here a signed
    DELETE of another object (request smuggling: a front end framed it as a body)."""
    victim = "w11d/victim-" + os.urandom(4).hex()
    wire_proxy.client("alice").put_object(Bucket="docs", Key=victim, Body=b"kept")
    delete = signed_head(wire_proxy, "DELETE", victim, {})
    key = "w11d/upgrade-" + os.urandom(4).hex()
    extra = {**UPGRADES[upgrade], "Content-Length": str(len(delete))}
    put = signed_head(wire_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    last = signed_head(wire_proxy, "GET", "w11d/absent", {"Connection": "close"})
    with socket.create_connection(("127.0.0.1", wire_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(put)
        sock.sendall(delete)  # most often a read of its own
        sock.sendall(last)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    answers = [answer[:3] for answer in reply.split(b"HTTP/1.1 ")[1:]]
    assert answers in ([b"200", b"404"], [b"200"])  # the last one answered, or dropped unread
    s3 = wire_proxy.client("alice")
    assert s3.get_object(Bucket="docs", Key=key)["Body"].read() == delete
    assert s3.get_object(Bucket="docs", Key=victim)["Body"].read() == b"kept"


def test_a_chunked_upgrade_request_is_not_implemented_on_both(wire_proxy: Proxy) -> None:
    """uvicorn's parser cannot be asked to decode it (above): refused on both, not stored."""
    key = "w11d/upgrade-chunked-" + os.urandom(4).hex()
    extra = {**UPGRADES["h2c"], "Transfer-Encoding": "chunked"}
    head = signed_head(wire_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    reply = exchange(wire_proxy, head + b"5\r\nhello\r\n0\r\n\r\n")
    assert refused(reply) == (501, "NotImplemented")
    assert ET.fromstring(split(reply)[2]).findtext("Header") == "Upgrade"
    assert not stored(wire_proxy, key)


def test_a_websocket_get_is_served_as_http(wire_proxy: Proxy) -> None:
    """Hypercorn made it a WebSocket stream, which the application does not serve: 500 with
    no body."""
    extra = {**UPGRADES["websocket"], "Sec-WebSocket-Version": "13"}
    extra["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    head = signed_head(wire_proxy, "GET", "w11d/absent", extra)
    with socket.create_connection(("127.0.0.1", wire_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        reply = b""
        while b"</Error>" not in reply:
            chunk = sock.recv(65536)
            assert chunk, reply
            reply += chunk
    status_line, _, body = split(reply)
    assert status_line == b"HTTP/1.1 404 Not Found"
    assert ET.fromstring(body).findtext("Code") == "NoSuchKey"


def test_a_request_read_whole_before_a_half_close_is_answered(wire_proxy: Proxy) -> None:
    """A client may end its input once its request is sent: both engines closed the request
    at once (no answer; Hypercorn had stored the PUT all the same). Now it is answered, then
    the connection closes."""
    key = "w11d/half-closed-" + os.urandom(4).hex()
    extra = {"Content-Length": "5"}
    head = signed_head(wire_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    reply = exchange(wire_proxy, head + b"hello", half_close=True)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.count(b"HTTP/1.1 ") == 1
    reply = exchange(wire_proxy, signed_head(wire_proxy, "GET", key, {}), half_close=True)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"\r\n\r\nhello")


def test_bytes_after_an_http_10_request_are_dropped_not_a_400(wire_proxy: Proxy) -> None:
    """HTTP/1.0 closes after its answer: Hypercorn's h11 called a second pipelined request a
    protocol error and answered 400 in place of the first one's answer."""
    first = signed_head(wire_proxy, "GET", "w11d/absent", {}).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    second = head_bytes("GET", "/docs/w11d/absent", {"Host": wire_proxy.host})
    reply = exchange(wire_proxy, first + second)
    assert reply.count(b"HTTP/1.1 ") == 1
    status_line, _, body = split(reply)
    assert status_line == b"HTTP/1.1 404 Not Found"
    assert ET.fromstring(body).findtext("Code") == "NoSuchKey"


def test_an_empty_line_before_a_request_is_skipped_on_both(wire_proxy: Proxy) -> None:
    """RFC 9112 §2.2 (a client may send a CRLF after a body): uvicorn served the request,
    Hypercorn answered 400."""
    head = signed_head(wire_proxy, "GET", "w11d/absent", {"Connection": "close"})
    status_line, _, _ = split(exchange(wire_proxy, b"\r\n" + head))
    assert status_line == b"HTTP/1.1 404 Not Found"


def test_an_unknown_method_is_405_on_both(wire_proxy: Proxy) -> None:
    """llhttp refuses a method it does not know (400 on uvicorn); the Hypercorn engine, like the
    operation table for PATCH, answers 405 MethodNotAllowed."""
    for method in ("FOO", "PATCH"):
        head = signed_head(wire_proxy, method, "w11d/absent", {"Connection": "close"})
        reply = exchange(wire_proxy, head)
        status_line, _, body = split(reply)
        assert status_line == b"HTTP/1.1 405 Method Not Allowed", method
        assert ET.fromstring(body).findtext("Code") == "MethodNotAllowed"


def test_a_refused_upload_never_runs_the_request_inside_its_body(wire_proxy: Proxy) -> None:
    """A PUT refused before its body is read (no such bucket) carries a signed DELETE as its
    body, with and without ``Expect: 100-continue``: the body is read away or the connection
    closed, never read as the next request, and the object survives."""
    key = "w11d/survivor-" + os.urandom(4).hex()
    wire_proxy.client("alice").put_object(Bucket="docs", Key=key, Body=b"kept")
    delete = signed_head(wire_proxy, "DELETE", key, {})
    for expect in ({}, {"Expect": "100-continue"}):
        extra = {"Content-Length": str(len(delete)), **expect}
        ak, sk = wire_proxy.keys("alice")
        url = object_url(wire_proxy.endpoint, "no-such-bucket-w11d", "k")
        headers = sign("PUT", url, ak, sk, extra, payload_hash="UNSIGNED-PAYLOAD")
        reply = exchange(wire_proxy, head_bytes("PUT", "/no-such-bucket-w11d/k", headers) + delete)
        answers = reply.replace(b"HTTP/1.1 100 Continue\r\n", b"").split(b"HTTP/1.1 ")[1:]
        assert [answer[:3] for answer in answers] == [b"404"]
    body = wire_proxy.client("alice").get_object(Bucket="docs", Key=key)["Body"].read()
    assert body == b"kept"
