"""Slow and hostile connections, on both engines (wave 12, H): a client that stops reading its
answer, a chunk line that never ends, a method no parser knows. Each is decided at the HTTP
layer, before any backend call, so a local store serves them (as test_engine does).

The proxy here has a one-second ``body_idle_timeout`` (also the time a response write may wait
for its client to read) and one request slot for alice, so a request that keeps its slot is
seen at once by the next."""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, head_bytes, signed_head
from tests.integration.test_http_layer import split
from tests.integration.test_logs import access_lines, wait_for
from tests.integration.test_w11d_wire import exchange, refused, stored

pytestmark = pytest.mark.integration

TIMEOUT = 30
SEND_TIMEOUT = 1
BIG = 24 * 1024 * 1024
"""Larger than what the kernel's socket buffers take in while the client reads nothing (~6 MiB
on loopback here): the proxy's writes must stall."""


@pytest.fixture(scope="module", params=ENGINES)
def slow_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    server = {
        "engine": request.param,
        "body_idle_timeout": SEND_TIMEOUT,
        "limits": {"max_concurrent_requests": 1, "max_wait": 0.2},
    }
    proxy = start_proxy(None, None, tmp_path_factory.mktemp("w12h"), server=server)
    try:
        yield proxy
    finally:
        proxy.process.stop()


def served(proxy: Proxy) -> bool:
    """Whether alice's one request slot is free: a HEAD of a missing key is answered 404, not
    503 SlowDown."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(signed_head(proxy, "HEAD", "w12h/absent", {"Connection": "close"}))
        status = sock.recv(65536).split(b"\r\n", 1)[0]
    assert status in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 503 Service Unavailable"), status
    return status == b"HTTP/1.1 404 Not Found"


def test_a_client_that_stops_reading_is_dropped_and_its_slot_freed(slow_proxy: Proxy) -> None:
    """A GET whose client reads nothing held its tenant's slot and its upstream connection
    for as long as the client kept the connection open (no timeout at all: TCP keeps a zero
    window alive), on both engines; an anonymous reader of a public object could so take all
    of its owner's slots. Now a write that waits on the client for the send timeout aborts the
    connection: the request ends (logged 499), the slot is free, the client got a cut body."""
    slow_proxy.client("alice").put_object(Bucket="docs", Key="w12h/big", Body=b"x" * BIG)
    assert served(slow_proxy)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(TIMEOUT)
    with stalled:
        stalled.connect(("127.0.0.1", slow_proxy.port))
        stalled.sendall(signed_head(slow_proxy, "GET", "w12h/big", {}))
        line = wait_for(
            lambda: access_lines(slow_proxy.process, operation="GetObject", key="w12h/big"),
            "the stalled GET never ended",
        )
        received = 0
        reset = False
        try:
            while chunk := stalled.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            reset = True  # the abort: a reset once what the kernel held was read
    assert (line[0]["status"], line[0]["error"]) == (499, "ClientDisconnected")
    assert received < BIG
    # A reset, not a FIN queued behind the unsent bytes: the kernel kept those (up to 4 MiB)
    # in an orphaned socket for as long as the client did not read them (wave 17 A).
    assert reset
    assert served(slow_proxy)


def test_a_chunk_line_that_never_ends_is_refused(slow_proxy: Proxy) -> None:
    """uvicorn read a chunk extension of any length (1 MiB here) and stored the upload;
    Hypercorn refused it as a header section too large. Both now stop after 16 KiB of chunk
    framing with no data: 400 InvalidRequest, nothing stored."""
    key = "w12h/extension-" + os.urandom(4).hex()
    extra = {"Transfer-Encoding": "chunked"}
    head = signed_head(slow_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    body = b"5;" + b"e" * (1 << 20) + b"\r\nhello\r\n0\r\n\r\n"
    assert refused(exchange(slow_proxy, head + body)) == (400, "InvalidRequest")
    assert not stored(slow_proxy, key)


def test_chunk_extensions_between_data_are_read(slow_proxy: Proxy) -> None:
    """The bound counts framing with no data between: a body of many chunks with extensions
    (20 KiB of them in all) is stored as sent."""
    key = "w12h/extensions-" + os.urandom(4).hex()
    extra = {"Transfer-Encoding": "chunked"}
    head = signed_head(slow_proxy, "PUT", key, extra, payload_hash="UNSIGNED-PAYLOAD")
    chunks = b"".join(b"1;name=" + b"v" * 200 + b"\r\nx\r\n" for _ in range(100))
    with socket.create_connection(("127.0.0.1", slow_proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(head + chunks + b"0\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
    body = slow_proxy.client("alice").get_object(Bucket="docs", Key=key)["Body"].read()
    assert body == b"x" * 100


@pytest.mark.parametrize("method", ["FOO", "DESCRIBE"])
@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "signed"])
def test_a_method_no_parser_knows_is_405_signed_or_not(
    slow_proxy: Proxy, method: str, signed: bool
) -> None:
    """Hypercorn passed an unknown upper-case method on, and an unsigned one was 403
    AccessDenied there (405 on uvicorn); uvicorn answered RTSP's DESCRIBE 400 (405 on
    Hypercorn when signed). Both now answer 405 MethodNotAllowed at the HTTP layer."""
    if signed:
        head = signed_head(slow_proxy, method, "w12h/k", {})
    else:
        head = head_bytes(method, "/docs/w12h/k", {"Host": slow_proxy.host})
    assert refused(exchange(slow_proxy, head)) == (405, "MethodNotAllowed")


def test_a_head_over_the_limit_names_the_limit(slow_proxy: Proxy) -> None:
    """S3 names its limit in the error (``<MaxSizeAllowed>8192``); the proxy names its own,
    16 KiB (http_errors.MAX_HEAD_BYTES says why it is not S3's)."""
    reply = exchange(slow_proxy, signed_head(slow_proxy, "GET", "w12h/k", {"X-Pad": "a" * 17000}))
    assert refused(reply) == (400, "RequestHeaderSectionTooLarge")
    assert ET.fromstring(split(reply)[2]).findtext("MaxSizeAllowed") == "16384"


def test_a_legal_request_over_aws_8_kib_is_served(slow_proxy: Proxy) -> None:
    """Why the limit is 16 KiB and not AWS's 8,192 bytes: ten tags of S3's largest (128 + 256
    characters, each a ``:`` written as %3A) make an ``x-amz-tagging`` header of ~11.5 KB,
    which AWS refuses and the proxy stores (http_errors.MAX_HEAD_BYTES)."""
    tags = [(f"k{n}" + ":" * 126, ":" * 256) for n in range(10)]
    tagging = "&".join(f"{key}={value}" for key, value in tags).replace(":", "%3A")
    assert len(tagging) > 8192
    client = slow_proxy.client("alice")
    client.put_object(Bucket="docs", Key="w12h/tagged", Body=b"x", Tagging=tagging)
    stored_tags = client.get_object_tagging(Bucket="docs", Key="w12h/tagged")["TagSet"]
    assert sorted((tag["Key"], tag["Value"]) for tag in stored_tags) == sorted(tags)
