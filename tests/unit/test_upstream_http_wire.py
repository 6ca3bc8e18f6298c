"""The native client puts on the wire what the aiohttp client did, for each kind of request
the S3 backend sends (the upstream verifies SigV4 over these headers): the same request line,
the same headers in the same order — but aiohttp's ``Accept: */*``, which nobody signs or
reads — and the same body bytes. Both clients also read the same answers the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD
from s3proxy.backends.s3 import S3Upstream
from s3proxy.backends.upstream_chunked import UNSIGNED_TRAILER, encode_with_trailer
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode

Request = tuple[list[bytes], bytes]
"""(head lines without date and signature, body as sent — chunked framing decoded)."""

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: "e"\r\n\r\n'


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return body
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _recorded(client: str, call: Any) -> Request:
    seen: list[Request] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")[:-2]
        lower = [line.lower() for line in lines]
        if b"transfer-encoding: chunked" in lower:
            body = await _read_chunked(reader)
        else:
            length = next(
                (int(x.split(b":")[1]) for x in lower if x.startswith(b"content-length:")), 0
            )
            body = await reader.readexactly(length) if length else b""
        kept = [x for x in lines if not x.lower().startswith((b"authorization:", b"x-amz-date:"))]
        kept = [b"host: *" if x.startswith(b"host: 127.0.0.1:") else x for x in kept]
        seen.append((kept, body))
        writer.write(ANSWER)
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    config = UpstreamConfig(
        endpoint=f"http://127.0.0.1:{port}", access_key="ak", secret_key="sk", client=client
    )
    backend = S3Upstream("wire", config)
    try:
        response = await call(backend)
        response.release()
    finally:
        await backend.close()
        listener.close()
    assert len(seen) == 1
    return seen[0]


async def _blocks(*blocks: bytes) -> AsyncIterator[bytes]:
    for block in blocks:
        yield block


def _put_bytes(backend: S3Upstream) -> Any:
    headers = {"content-length": "5", "x-amz-meta-a": "é b", "content-type": "text/plain"}
    return backend._send("PUT", "ub", "k ey", headers, body=b"hello", payload_hash="abc")


def _put_stream(backend: S3Upstream) -> Any:
    headers = {"content-length": str(3 * 70_000)}
    body = _blocks(b"a" * 70_000, b"b" * 70_000, b"c" * 70_000)
    return backend._send("PUT", "ub", "k", headers, query="partNumber=2&uploadId=u", body=body)


def _put_aws_chunked(backend: S3Upstream) -> Any:
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "6",
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    body = encode_with_trailer(_blocks(b"abc", b"def"), "x-amz-checksum-crc32", lambda: "AAAA")
    return backend._send("PUT", "ub", "k", headers, body=body, payload_hash=UNSIGNED_TRAILER)


def _post_empty(backend: S3Upstream) -> Any:
    return backend._send("POST", "ub", "k", {"x-amz-meta-m": "v"}, query="uploads=")


def _copy(backend: S3Upstream) -> Any:
    return backend._send("PUT", "ub", "k", {"x-amz-copy-source": "/ub/src"})


def _delete(backend: S3Upstream) -> Any:
    return backend._send("DELETE", "ub", "k", {})


def _get(backend: S3Upstream) -> Any:
    return backend._send("GET", "ub", None, {"range": "bytes=0-1"}, query="list-type=2")


def _head(backend: S3Upstream) -> Any:
    return backend._send("HEAD", "ub", "k", {"if-match": '"e"'}, payload_hash=UNSIGNED_PAYLOAD)


@pytest.mark.parametrize(
    "call",
    [_put_bytes, _put_stream, _put_aws_chunked, _post_empty, _copy, _delete, _get, _head],
    ids=[
        "put-bytes",
        "put-stream",
        "put-aws-chunked",
        "post-empty",
        "copy",
        "delete",
        "get",
        "head",
    ],
)
def test_native_wire_matches_aiohttp(call: Any) -> None:
    old_head, old_body = asyncio.run(_recorded("aiohttp", call))
    new_head, new_body = asyncio.run(_recorded("native", call))
    assert new_head == [line for line in old_head if line != b"Accept: */*"]
    assert new_body == old_body


def test_body_iterator_s3_error_reaches_the_caller_as_itself() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"abc"
        raise S3Error(S3ErrorCode.BadDigest)

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    async def go(client: str) -> S3ErrorCode:
        listener = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        config = UpstreamConfig(
            endpoint=f"http://127.0.0.1:{port}", access_key="ak", secret_key="sk", client=client
        )
        backend = S3Upstream("wire", config)
        try:
            headers = {"content-length": "100"}
            with pytest.raises(S3Error) as info:
                await backend._send("PUT", "ub", "k", headers, body=failing())
            return info.value.code
        finally:
            await backend.close()
            listener.close()

    assert asyncio.run(go("native")) is asyncio.run(go("aiohttp")) is S3ErrorCode.BadDigest


def test_unreachable_upstream_is_503_with_either_client() -> None:
    async def go(client: str) -> S3ErrorCode:
        config = UpstreamConfig(
            endpoint="http://127.0.0.1:9", access_key="ak", secret_key="sk", client=client
        )
        backend = S3Upstream("wire", config)
        try:
            with pytest.raises(S3Error) as info:
                await backend._send("GET", "ub", "k", {})
            return info.value.code
        finally:
            await backend.close()

    assert asyncio.run(go("native")) is asyncio.run(go("aiohttp")) is S3ErrorCode.ServiceUnavailable


@pytest.mark.parametrize("verify", [False, True])
def test_https_upstream_verifies_its_certificate_only_when_told(verify: bool) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(ANSWER)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        writer.close()

    async def go() -> int | S3ErrorCode:
        listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)
        port = listener.sockets[0].getsockname()[1]
        config = UpstreamConfig(
            endpoint=f"https://127.0.0.1:{port}",
            access_key="ak",
            secret_key="sk",
            client="native",
            verify_tls=verify,
        )
        backend = S3Upstream("tls", config)
        try:
            response = await backend._send("HEAD", "ub", "k", {})
            response.release()
            return response.status
        except S3Error as error:
            return error.code
        finally:
            await backend.close()
            listener.close()

    assert asyncio.run(go()) == (S3ErrorCode.ServiceUnavailable if verify else 200)


def test_each_tenant_has_its_own_pool() -> None:
    """With ``max_connections: 1``, a tenant holding its one connection (a body not yet read)
    makes its own next request wait, never another tenant's."""
    from s3proxy.limits import CURRENT_TENANT

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab")  # 1 byte short
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()

    async def as_tenant(backend: S3Upstream, tenant: str) -> Any:
        CURRENT_TENANT.set(tenant)
        return await backend._send("GET", "ub", "k", {})

    async def go() -> None:
        listener = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        config = UpstreamConfig(
            endpoint=f"http://127.0.0.1:{port}",
            access_key="ak",
            secret_key="sk",
            client="native",
            max_connections=1,
        )
        backend = S3Upstream("pools", config)
        try:
            held = await asyncio.create_task(as_tenant(backend, "alice"))
            other = await asyncio.wait_for(asyncio.create_task(as_tenant(backend, "bob")), 5)
            same = asyncio.create_task(as_tenant(backend, "alice"))
            await asyncio.sleep(0.05)
            assert not same.done()
            held.close()
            (await asyncio.wait_for(same, 5)).close()
            other.close()
        finally:
            await backend.close()
            listener.close()

    asyncio.run(go())
