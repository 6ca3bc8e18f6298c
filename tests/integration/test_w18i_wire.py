"""Numbers on the wire past what Python's int() converts, on both engines (wave 18, I).

llhttp (uvicorn) reads a Content-Length of any number of leading zeros as the number it is, and
the handler's ``int()`` of those 5,001 digits raised ValueError: a 500 InternalError for a
PutObject S3 stores (h11, on Hypercorn, refuses a Content-Length over 20 characters: 400). A
rate-limited tenant's Range of 5,000 digits was a 500 on both engines: admission reads it
(s3proxy.limits.declared_bytes) before the handler. Framing and admission come before any
backend call, so a local store serves these, as test_w11d_wire does.
"""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_engine import ENGINES, signed_head
from tests.integration.test_http_layer import split

pytestmark = pytest.mark.integration

TIMEOUT = 30
HUGE = "9" * 5000


@pytest.fixture(scope="module", params=ENGINES)
def wire_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    limits = {"requests_per_second": 10_000, "bytes_per_second": 10**12}
    proxy = start_proxy(
        None,
        None,
        tmp_path_factory.mktemp("w18i"),
        server={"engine": request.param, "limits": limits},
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def answer(proxy: Proxy, data: bytes) -> tuple[int, str | None]:
    """Status and S3 error code (None: no error body) of the one answer to ``data``, sent whole
    and followed by the end of the client's input."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.count(b"HTTP/1.1 ") == 1, reply[:500]
    status_line, _, body = split(reply)
    code = ET.fromstring(body).findtext("Code") if body.startswith(b"<?xml") else None
    return int(status_line.split()[1]), code


def test_a_zero_padded_content_length_is_stored_or_refused_never_a_500(wire_proxy: Proxy) -> None:
    key = "w18i/padded-" + os.urandom(4).hex()
    head = signed_head(wire_proxy, "PUT", key, {}, payload_hash="UNSIGNED-PAYLOAD")
    head = head[:-2] + b"Content-Length: " + b"0" * 5000 + b"5\r\n\r\n"
    status, code = answer(wire_proxy, head + b"hello")
    client = wire_proxy.client("alice")
    if status == 200:  # uvicorn: llhttp read 5
        assert client.get_object(Bucket="docs", Key=key)["Body"].read() == b"hello"
    else:  # Hypercorn: h11 reads at most 20 characters
        assert (status, code) == (400, "InvalidRequest")
        assert not client.list_objects_v2(Bucket="docs", Prefix=key).get("KeyCount")


def test_a_rate_limited_range_of_5000_digits_is_unsatisfiable(wire_proxy: Proxy) -> None:
    key = "w18i/ranged-" + os.urandom(4).hex()
    wire_proxy.client("alice").put_object(Bucket="docs", Key=key, Body=b"0123456789")
    head = signed_head(wire_proxy, "GET", key, {"Range": f"bytes={HUGE}-{HUGE}"})
    assert answer(wire_proxy, head) == (416, "InvalidRange")
