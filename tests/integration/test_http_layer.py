"""What the HTTP layer puts on the wire, byte for byte, on every lane: a reason phrase on every
status line, S3 XML error bodies on requests refused below the S3 layer (header section too
large, bad framing, an unsupported Transfer-Encoding), and Content-Length together with
Transfer-Encoding refused with nothing stored (issue 15 item 9, issue 16 item 5)."""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, sign

pytestmark = pytest.mark.integration


def exchange(proxy: Proxy, data: bytes, *, pieces: tuple[bytes, ...] = ()) -> bytes:
    """Send raw bytes (then ``pieces``, each in its own write) and read until the server closes
    the connection (every request here asks for ``Connection: close`` or is refused)."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(data)
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:  # the server may already have answered and closed
                break
        reply = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
    return reply


def split(reply: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """Status line, headers (lower-case names), body of the first response in ``reply``."""
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, body


def error_code(body: bytes) -> str | None:
    return ET.fromstring(body).findtext("Code")


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


def stored(proxy: Proxy, key: str) -> bytes | None:
    try:
        body = proxy.client("alice").get_object(Bucket="docs", Key=key)["Body"].read()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchKey"
        return None
    return bytes(body)


class TestStatusLines:
    def test_success_and_errors_carry_their_reason_phrase(self, proxy: Proxy) -> None:
        host = {"Host": proxy.host, "Connection": "close"}
        ak, sk = proxy.keys("alice")
        url = object_url(proxy.endpoint, "docs", "http-layer/missing")
        missing = exchange(
            proxy, request_head("GET", "/docs/http-layer/missing", sign("GET", url, ak, sk, host))
        )
        assert missing.startswith(b"HTTP/1.1 404 Not Found\r\n")
        listing = exchange(
            proxy, request_head("GET", "/docs", sign("GET", proxy.endpoint + "/docs", ak, sk, host))
        )
        assert listing.startswith(b"HTTP/1.1 200 OK\r\n")
        anonymous = exchange(proxy, request_head("GET", "/docs", host))
        assert anonymous.startswith(b"HTTP/1.1 403 Forbidden\r\n")

    def test_an_early_error_after_100_continue_is_a_full_status_line(self, proxy: Proxy) -> None:
        """botocore reads the final answer to an ``Expect: 100-continue`` upload by its three
        words: a refused upload must show its S3 error, not a closed connection. The first
        answer is either ``100 Continue`` (Hypercorn sends it as soon as the head is read) or
        the final one (uvicorn: the body was never asked for, as RFC 9110 allows and S3 does);
        either way the client that sends its body after it reads the full S3 error."""
        ak, sk = proxy.keys("alice")
        url = object_url(proxy.endpoint, "no-such-bucket-http", "k")
        body = b"x" * 1000
        headers = sign("PUT", url, ak, sk, {"Expect": "100-continue", "Connection": "close"}, body)
        headers["Content-Length"] = str(len(body))
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
            sock.sendall(request_head("PUT", "/no-such-bucket-http/k", headers))
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += sock.recv(65536)
            sock.sendall(body)
            while chunk := sock.recv(65536):
                reply += chunk
        final = reply
        if reply.startswith(b"HTTP/1.1 100 Continue\r\n"):
            final = reply.partition(b"\r\n\r\n")[2]
        assert b"100 Continue" not in final
        status_line, _, body = split(final)
        assert status_line == b"HTTP/1.1 404 Not Found"
        assert error_code(body) == "NoSuchBucket"

    def test_botocore_sees_the_s3_error_of_a_refused_upload(self, proxy: Proxy) -> None:
        """A PutObject over 1 MB goes with ``Expect: 100-continue``: the refusal must reach
        botocore as the S3 error, not as a ConnectionClosedError."""
        with pytest.raises(ClientError) as caught:
            proxy.client("alice").put_object(
                Bucket="no-such-bucket-http", Key="k", Body=b"x" * (2 * 1024 * 1024)
            )
        assert caught.value.response["Error"]["Code"] == "NoSuchBucket"


class TestErrorsBelowTheS3Layer:
    @pytest.mark.parametrize("size", [20_000, 300_000], ids=["one-read", "many-reads"])
    def test_a_header_section_too_large_gets_an_s3_error(self, proxy: Proxy, size: int) -> None:
        """Over 16 KiB, whether the section arrives in one socket read or stays unfinished
        past h11's buffer (larger than hypercorn_patch.SOCKET_READ)."""
        filler = {"Host": proxy.host, "Connection": "close", "X-Filler": "a" * size}
        head = request_head("GET", "/docs", filler)
        status_line, headers, body = split(exchange(proxy, head))
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert headers["content-type"] == "application/xml"
        assert headers["connection"] == "close"
        assert error_code(body) == "RequestHeaderSectionTooLarge"
        assert ET.fromstring(body).findtext("RequestId") == headers["x-amz-request-id"]

    def test_a_large_header_section_below_the_limit_is_served(self, proxy: Proxy) -> None:
        ak, sk = proxy.keys("alice")
        headers = {"Host": proxy.host, "Connection": "close", "X-Filler": "a" * 12_000}
        signed_headers = sign("GET", proxy.endpoint + "/docs", ak, sk, headers)
        reply = exchange(proxy, request_head("GET", "/docs", signed_headers))
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")

    @pytest.mark.parametrize(
        "head",
        [
            b"GET /docs HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n",
            b"GET /docs HTTP/1.1\r\nHost: h\r\nContent-Length: ten\r\n\r\n",
            b"GET /docs HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ],
        ids=["header-line", "content-length", "two-lengths"],
    )
    def test_bad_framing_gets_an_s3_error(self, proxy: Proxy, head: bytes) -> None:
        status_line, headers, body = split(exchange(proxy, head))
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert headers["content-length"] == str(len(body))
        assert error_code(body) == "InvalidRequest"

    def test_a_bad_chunk_size_ends_the_upload_with_an_s3_error(self, proxy: Proxy) -> None:
        ak, sk = proxy.keys("alice")
        key = "http-layer/bad-chunk-" + os.urandom(4).hex()
        url = object_url(proxy.endpoint, "docs", key)
        headers = sign(
            "PUT", url, ak, sk, {"Transfer-Encoding": "chunked"}, payload_hash="UNSIGNED-PAYLOAD"
        )
        head = request_head("PUT", f"/docs/{key}", headers)
        status_line, _, body = split(exchange(proxy, head, pieces=(b"5\r\nhello\r\nzz\r\n",)))
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert error_code(body) == "InvalidRequest"
        assert stored(proxy, key) is None

    def test_an_unsupported_transfer_encoding_is_not_implemented(self, proxy: Proxy) -> None:
        head = request_head("PUT", "/docs/k", {"Host": proxy.host, "Transfer-Encoding": "gzip"})
        status_line, _, body = split(exchange(proxy, head))
        assert status_line == b"HTTP/1.1 501 Not Implemented"
        assert error_code(body) == "NotImplemented"
        assert ET.fromstring(body).findtext("Header") == "Transfer-Encoding"


class TestAmbiguousFraming:
    @pytest.mark.parametrize("length", ["5", "3", "40"], ids=["equal", "shorter", "longer"])
    def test_content_length_with_chunked_is_refused_and_nothing_stored(
        self, proxy: Proxy, length: str
    ) -> None:
        ak, sk = proxy.keys("alice")
        key = f"http-layer/cl-te-{length}-" + os.urandom(4).hex()
        url = object_url(proxy.endpoint, "docs", key)
        headers = sign(
            "PUT",
            url,
            ak,
            sk,
            {"Transfer-Encoding": "chunked", "Content-Length": length},
            payload_hash="UNSIGNED-PAYLOAD",
        )
        head = request_head("PUT", f"/docs/{key}", headers)
        reply = exchange(proxy, head, pieces=(b"5\r\nhello\r\n0\r\n\r\n",))
        status_line, headers_out, body = split(reply)
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert headers_out["connection"] == "close"
        assert error_code(body) == "InvalidRequest"
        assert reply.count(b"HTTP/1.1") == 1  # the body was not read as a second request
        assert stored(proxy, key) is None

    def test_chunked_alone_still_stores(self, proxy: Proxy) -> None:
        """The same request without Content-Length: the refusal above is about the pair."""
        ak, sk = proxy.keys("alice")
        key = "http-layer/te-only-" + os.urandom(4).hex()
        url = object_url(proxy.endpoint, "docs", key)
        headers = sign(
            "PUT",
            url,
            ak,
            sk,
            {"Transfer-Encoding": "chunked", "Connection": "close"},
            payload_hash="UNSIGNED-PAYLOAD",
        )
        reply = exchange(
            proxy,
            request_head("PUT", f"/docs/{key}", headers),
            pieces=(b"5\r\nhello\r\n0\r\n\r\n",),
        )
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert stored(proxy, key) == b"hello"
