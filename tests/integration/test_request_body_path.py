"""The uvicorn engine's request-body path (s3proxy.uvicorn_engine, ``body_received``): once a
Content-Length body runs on past a socket read, the rest of it is handed to the application
without passing through the HTTP parser, and a fresh parser takes the bytes after its end. On
the wire that must change nothing: every byte of the body is stored, in order, and a request
pipelined behind it — in the same read as the body's end, or in a later one — is answered."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration

TIMEOUT = 30


def head(proxy: Proxy, method: str, key: str, extra: dict[str, str], body: bytes = b"") -> bytes:
    ak, sk = proxy.keys("alice")
    headers = sign(method, object_url(proxy.endpoint, "docs", key), ak, sk, extra, body)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{method} /docs/{key} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


def answers(reply: bytes, methods: list[str]) -> list[tuple[bytes, bytes]]:
    """(status line, body) of each response in ``reply``, framed by Content-Length."""
    out = []
    for method in methods:
        head_end = reply.index(b"\r\n\r\n")
        status_line, *lines = reply[:head_end].split(b"\r\n")
        length = 0
        for line in lines:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if method == "HEAD":
            length = 0
        body = reply[head_end + 4 : head_end + 4 + length]
        assert len(body) == length
        out.append((status_line, body))
        reply = reply[head_end + 4 + length :]
    assert reply == b""
    return out


def read_until_closed(sock: socket.socket) -> bytes:
    reply = b""
    while chunk := sock.recv(1 << 20):
        reply += chunk
    return reply


@pytest.mark.parametrize("first", [0, 1, 100_000, 3 * 1024 * 1024])
def test_a_body_in_many_reads_then_pipelined_requests(proxy: Proxy, first: int) -> None:
    """3 MiB + 7 bytes, the head alone or with ``first`` body bytes in the first write, the
    rest of the body in the same write as a GET and a HEAD pipelined behind it."""
    key = "body-path/" + os.urandom(4).hex()
    body = os.urandom(3 * 1024 * 1024 + 7)
    put = head(proxy, "PUT", key, {"Content-Length": str(len(body))}, body)
    get = head(proxy, "GET", key, {})
    last = head(proxy, "HEAD", key, {"Connection": "close"})
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(put + body[:first])
        sock.sendall(body[first:] + get + last)
        reply = read_until_closed(sock)
    (put_status, _), (get_status, got), (head_status, _) = answers(reply, ["PUT", "GET", "HEAD"])
    assert put_status == b"HTTP/1.1 200 OK"
    assert get_status == b"HTTP/1.1 200 OK"
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    assert head_status == b"HTTP/1.1 200 OK"


def test_a_body_ending_a_read_then_the_next_request_on_the_same_connection(
    proxy: Proxy,
) -> None:
    """The body's last read ends exactly at its end: the next request, sent only after the
    answer, is read by the fresh parser."""
    key = "body-path/" + os.urandom(4).hex()
    body = os.urandom(1024 * 1024)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(head(proxy, "PUT", key, {"Content-Length": str(len(body))}, body))
        sock.sendall(body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        sock.sendall(head(proxy, "GET", key, {"Connection": "close"}))
        reply = read_until_closed(sock)
    ((status, got),) = answers(reply, ["GET"])
    assert status == b"HTTP/1.1 200 OK"
    assert got == body


def test_a_corrupt_body_in_many_reads_is_refused_and_not_stored(proxy: Proxy) -> None:
    """The signed hash is checked over the bytes that bypassed the parser too."""
    key = "body-path/" + os.urandom(4).hex()
    body = os.urandom(2 * 1024 * 1024)
    put = head(proxy, "PUT", key, {"Content-Length": str(len(body))}, body)
    corrupt = body[:-1] + bytes([body[-1] ^ 1])
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(put)
        sock.sendall(corrupt + head(proxy, "GET", key, {"Connection": "close"}))
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in reply
    client = proxy.client("alice")
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket="docs", Key=key)
