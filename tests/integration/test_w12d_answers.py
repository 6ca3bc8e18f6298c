"""Large XML answers go out chunked, rendered as sent (wave 12, D).

An answer larger than one chunk (s3proxy.xmlcodec.CHUNK_CHARS) has no Content-Length and is
sent with ``Transfer-Encoding: chunked``, as S3 sends its listings; HTTP/1.0 clients get it
delimited by the connection's close. What clients read must be the same document as before:
checked raw and through botocore. The rendering does not depend on the upstream: one lane (the
local store). ListMultipartUploads and every other large answer are counted message by message
in tests/unit/test_w12d_answers.py.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy
from tests.integration.test_engine import head_bytes
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

KEYS = [f"w12d/{n:03d}" + "&" * 990 for n in range(16)]  # ~80 KB of XML: two chunks
TIMEOUT = 30


@pytest.fixture
def seeded(proxy: Proxy) -> Iterator[Proxy]:
    client = proxy.client("alice")
    for key in KEYS:
        client.put_object(Bucket="docs", Key=key, Body=b"x")
    try:
        yield proxy
    finally:
        client.delete_objects(Bucket="docs", Delete={"Objects": [{"Key": key} for key in KEYS]})


def _listing_request(proxy: Proxy, version: str) -> bytes:
    query = "list-type=2&prefix=w12d%2F"
    headers = sign("GET", object_url(proxy.endpoint, "docs", None, query), *proxy.keys("alice"))
    request = head_bytes("GET", f"/docs?{query}", headers)
    return request.replace(b"HTTP/1.1", version.encode(), 1)


def _read_answer(sock: socket.socket) -> tuple[dict[str, str], bytes]:
    """One answer from ``sock``: its headers and its body, de-chunked if it was chunked."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].split()[1] == "200", head
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    if "content-length" in headers:
        while len(rest) < int(headers["content-length"]):
            rest += sock.recv(65536)
        return headers, rest
    if headers.get("transfer-encoding") != "chunked":
        while chunk := sock.recv(65536):  # HTTP/1.0: the body ends with the connection
            rest += chunk
        return headers, rest
    body = b""
    while True:
        while b"\r\n" not in rest:
            rest += sock.recv(65536)
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(rest) < size + 2:
            rest += sock.recv(65536)
        if size == 0:
            return headers, body
        body, rest = body + rest[:size], rest[size + 2 :]


def _keys(body: bytes) -> list[str | None]:
    return [element.text for element in ET.fromstring(body).iterfind("{*}Contents/{*}Key")]


@pytest.mark.one_lane
def test_a_large_listing_is_sent_chunked_and_reads_whole(seeded: Proxy) -> None:
    """HTTP/1.1: chunked, no Content-Length, the connection kept for a second request that
    reads the same document; HTTP/1.0: the same bytes, ended by the close."""
    with socket.create_connection(("127.0.0.1", seeded.port), timeout=TIMEOUT) as sock:
        documents = []
        for _ in range(2):
            sock.sendall(_listing_request(seeded, "HTTP/1.1"))
            headers, body = _read_answer(sock)
            assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
            assert headers["content-type"] == "application/xml"
            documents.append(body)
    assert _keys(documents[0]) == KEYS and documents[1] == documents[0]
    with socket.create_connection(("127.0.0.1", seeded.port), timeout=TIMEOUT) as sock:
        sock.sendall(_listing_request(seeded, "HTTP/1.0"))
        headers, body = _read_answer(sock)
    assert "content-length" not in headers and body == documents[0]


@pytest.mark.one_lane
def test_clients_read_large_answers(seeded: Proxy) -> None:
    """botocore reads every large answer: V1, V2 (url-encoded too), versions and a non-quiet
    DeleteObjects of the same long keys."""
    client = seeded.client("alice")
    v2 = client.list_objects_v2(Bucket="docs", Prefix="w12d/")
    assert [item["Key"] for item in v2["Contents"]] == KEYS
    encoded = client.list_objects_v2(Bucket="docs", Prefix="w12d/", EncodingType="url")
    assert [item["Key"] for item in encoded["Contents"]] == [
        key.replace("&", "%26") for key in KEYS
    ]
    v1 = client.list_objects(Bucket="docs", Prefix="w12d/")
    assert [item["Key"] for item in v1["Contents"]] == KEYS
    versions = client.list_object_versions(Bucket="docs", Prefix="w12d/")
    assert [item["Key"] for item in versions["Versions"]] == KEYS
    deleted = client.delete_objects(
        Bucket="docs", Delete={"Objects": [{"Key": key} for key in KEYS], "Quiet": False}
    )
    assert sorted(item["Key"] for item in deleted["Deleted"]) == KEYS
    assert "Contents" not in client.list_objects_v2(Bucket="docs", Prefix="w12d/")
