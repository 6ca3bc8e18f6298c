"""How today's SDKs really upload: aws-chunked bodies with trailing checksums over TLS, checksum
headers over HTTP — and a corrupt aws-chunked upload never replaces the stored object."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    BOB_BUCKET,
    HOME_BUCKET,
    PHOTOS_BUCKET,
    Proxy,
    start_proxy,
)
from tests.integration.test_awscli import aws_executable
from tests.support.clients import clean_env
from tests.support.processes import SeaweedFS
from tests.support.s3http import aws_chunked_headers, object_url, send, sign

pytestmark = pytest.mark.integration

TRAILER_MODE = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def _tls_proxy(server: Any, client: Any, work: Path, style: str) -> tuple[Proxy, Path]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    certificate.private_key_and_cert_chain_pem.write_to_path(str(work / "server.pem"))
    authority.cert_pem.write_to_path(str(work / "ca.pem"))
    proxy = start_proxy(
        server,
        client,
        work,
        server={"tls_cert": str(work / "server.pem"), "tls_key": str(work / "server.pem")},
        upstream_options={"request_style": style},
    )
    try:
        tls_client(proxy, work / "ca.pem").create_bucket(Bucket="docs")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    return proxy, work / "ca.pem"


@pytest.fixture(scope="module", params=["plain", "aws-chunked"])
def tls_proxy(
    request: pytest.FixtureRequest,
    seaweed: SeaweedFS,
    upstream_s3: Any,
    upstream_buckets: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Proxy, Path]]:
    work = tmp_path_factory.mktemp(f"tls-{request.param}")
    proxy, ca = _tls_proxy(seaweed, upstream_s3, work, request.param)
    try:
        yield proxy, ca
    finally:
        proxy.process.stop()


def tls_client(proxy: Proxy, ca: Path, tenant: str = "alice") -> Any:
    ak, sk = proxy.keys(tenant)
    return boto3.client(
        "s3",
        endpoint_url=f"https://127.0.0.1:{proxy.port}",
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        verify=str(ca),
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


@pytest.mark.parametrize("algorithm", [None, "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_boto3_over_tls_uses_aws_chunked_trailers(
    tls_proxy: tuple[Proxy, Path], algorithm: str | None
) -> None:
    proxy, ca = tls_proxy
    s3 = tls_client(proxy, ca)
    # One small body: read whole before it goes upstream, its trailer's value goes as a header.
    body = os.urandom(1024 if algorithm == "CRC32C" else 3 * 1024 * 1024 + 17)
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    key = f"tls/{algorithm or 'default'}"
    put = s3.put_object(Bucket="docs", Key=key, Body=body, **extra)
    sent = put["ResponseMetadata"]["HTTPHeaders"]
    name = f"x-amz-checksum-{(algorithm or 'CRC32').lower()}"
    assert name in sent
    got = s3.get_object(Bucket="docs", Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    stored = got["ResponseMetadata"]["HTTPHeaders"].get(name)
    # The client's trailer checksum went upstream (a large body's as a trailer, under
    # request_style plain too: SeaweedFS's Server header says it takes one), stored, returned.
    assert stored == sent[name]
    # aws-chunked is the transfer encoding only: nothing of it is stored with the object.
    assert "ContentEncoding" not in s3.head_object(Bucket="docs", Key=key)


def test_aws_cli_over_tls(tls_proxy: tuple[Proxy, Path], tmp_path: Path) -> None:
    import subprocess

    proxy, ca = tls_proxy
    ak, sk = proxy.keys("alice")
    source = tmp_path / "file.bin"
    source.write_bytes(os.urandom(5 * 1024 * 1024))
    env = clean_env()
    env.update(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk, AWS_DEFAULT_REGION="us-east-1")
    base = [
        aws_executable(),
        "--endpoint-url",
        f"https://127.0.0.1:{proxy.port}",
        "--ca-bundle",
        str(ca),
    ]
    for args in (
        ["s3", "cp", str(source), "s3://docs/tls/cli.bin"],
        ["s3", "cp", "s3://docs/tls/cli.bin", str(tmp_path / "back.bin")],
    ):
        result = subprocess.run(
            [*base, *args], env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()


def test_checksum_header_over_http_is_verified(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    put = s3.put_object(Bucket="docs", Key="http/crc", Body=b"abc", ChecksumAlgorithm="CRC32C")
    assert "x-amz-checksum-crc32c" in put["ResponseMetadata"]["HTTPHeaders"]
    ak, sk = proxy.keys("alice")
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    url = object_url(proxy.endpoint, "docs", "http/bad-crc")
    headers = sign("PUT", url, ak, sk, {"x-amz-checksum-crc32": wrong}, b"payload")
    response = send("PUT", url, headers, b"payload")
    assert (response.status, response.error_code) == (400, "BadDigest")
    with pytest.raises(ClientError):
        s3.head_object(Bucket="docs", Key="http/bad-crc")


def _chunked_body(data: bytes, trailer_value: str) -> bytes:
    return (
        f"{len(data):x}\r\n".encode()
        + data
        + b"\r\n0\r\n"
        + f"x-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode()
    )


@pytest.mark.parametrize("corruption", ["none", "trailer", "data", "truncated"])
def test_corrupt_aws_chunked_upload_keeps_the_old_object(proxy: Proxy, corruption: str) -> None:
    s3 = proxy.client("alice")
    key = f"chunked/{corruption}"
    s3.put_object(Bucket="docs", Key=key, Body=b"old object")
    data = os.urandom(300_000)
    good = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = _chunked_body(data, good)
    if corruption == "trailer":
        body = _chunked_body(data, base64.b64encode(b"\0\0\0\0").decode())
    elif corruption == "data":
        body = body[:100] + bytes([body[100] ^ 1]) + body[101:]
    elif corruption == "truncated":
        body = body[: len(body) // 2]
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "docs", key)
    headers = sign(
        "PUT",
        url,
        ak,
        sk,
        aws_chunked_headers(len(data), "x-amz-checksum-crc32"),
        payload_hash=TRAILER_MODE,
    )
    response = send("PUT", url, headers, body)
    stored = s3.get_object(Bucket="docs", Key=key)["Body"].read()
    if corruption == "none":
        assert response.status == 200
        assert stored == data
        assert hashlib.md5(stored).hexdigest() in response.header("ETag")  # type: ignore[operator]
    else:
        assert response.status == 400, response.body
        assert response.error_code in ("BadDigest", "IncompleteBody")
        assert stored == b"old object"


def test_http_chunked_upload_without_content_length(proxy: Proxy) -> None:
    """Plain HTTP chunked transfer (no Content-Length, no aws-chunked): spooled and stored."""
    import http.client

    data = os.urandom(700_000)
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "docs", "chunked/plain")
    headers = sign(
        "PUT", url, ak, sk, {"Transfer-Encoding": "chunked"}, payload_hash="UNSIGNED-PAYLOAD"
    )
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
    connection.putrequest("PUT", "/docs/chunked/plain", skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    for start in range(0, len(data), 100_000):
        piece = data[start : start + 100_000]
        connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200
    stored = proxy.client("alice").get_object(Bucket="docs", Key="chunked/plain")["Body"].read()
    assert stored == data


@pytest.mark.parametrize("expect", ["100-continue", "100-Continue"])
def test_expect_100_continue(proxy: Proxy, expect: str) -> None:
    import socket

    data = os.urandom(50_000)
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "docs", f"expect/{expect}")
    headers = sign("PUT", url, ak, sk, {"Expect": expect}, data)
    headers["Content-Length"] = str(len(data))
    head = f"PUT /docs/expect/{expect} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n")
        interim = sock.recv(4096)
        # With its reason phrase, as S3 sends it: aws-cli v2 (Debian 12) needs the three words.
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(data)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200")
    stored = proxy.client("alice").get_object(Bucket="docs", Key=f"expect/{expect}")
    assert stored["Body"].read() == data


def test_boto3_over_tls_to_ceph(ceph_rgw: Any, ceph_s3: Any, tmp_path: Path) -> None:
    """Ceph RGW rejects aws-chunked bodies; through the proxy, a boto3 TLS upload still works."""
    existing = {b["Name"] for b in ceph_s3.list_buckets().get("Buckets", [])}
    for name in (HOME_BUCKET, PHOTOS_BUCKET, BOB_BUCKET):
        if name not in existing:
            ceph_s3.create_bucket(Bucket=name)
    proxy, ca = _tls_proxy(ceph_rgw, ceph_s3, tmp_path, "plain")
    try:
        s3 = tls_client(proxy, ca)
        body = os.urandom(2 * 1024 * 1024)
        s3.put_object(Bucket="docs", Key="ceph/tls", Body=body, ChecksumAlgorithm="CRC32C")
        assert s3.get_object(Bucket="docs", Key="ceph/tls")["Body"].read() == body
    finally:
        proxy.process.stop()


def _signed_chunked(
    data: bytes, secret: str, headers: dict[str, str], trailer: tuple[str, str] | None
) -> bytes:
    """A signed aws-chunked body (sigv4-streaming(-trailers).html), chained from the seed
    signature botocore put in ``headers``."""
    from s3proxy.auth.sigv4 import sign as hmac_hex
    from s3proxy.auth.sigv4 import signing_key

    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = signing_key(secret, amz_date[:8], "us-east-1")
    empty = hashlib.sha256(b"").hexdigest()
    wire, previous = bytearray(), seed
    for offset in [*range(0, len(data), 65536), len(data)]:
        piece = data[offset : offset + 65536]
        digest = hashlib.sha256(piece).hexdigest()
        previous = hmac_hex(
            key, f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{empty}\n{digest}"
        )
        wire += f"{len(piece):x};chunk-signature={previous}\r\n".encode()
        wire += piece + b"\r\n" if piece else b""
    if trailer is not None:
        canonical = f"{trailer[0]}:{trailer[1]}\n"
        wire += canonical.replace("\n", "\r\n").encode()
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        signature = hmac_hex(
            key, f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{previous}\n{digest}"
        )
        wire += f"x-amz-trailer-signature:{signature}\r\n".encode()
    return bytes(wire + b"\r\n")


@pytest.mark.parametrize("with_trailer", [False, True], ids=["payload", "payload-trailer"])
@pytest.mark.parametrize("tamper", [False, True], ids=["good", "bad-chunk-signature"])
def test_signed_aws_chunked_end_to_end(proxy: Proxy, with_trailer: bool, tamper: bool) -> None:
    s3 = proxy.client("alice")
    key = f"signed-chunked/{with_trailer}-{tamper}"
    s3.put_object(Bucket="docs", Key=key, Body=b"old object")
    data = os.urandom(200_000)
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if with_trailer else "")
    extra = aws_chunked_headers(len(data), "x-amz-checksum-crc32" if with_trailer else None)
    trailer = None
    if with_trailer:
        trailer = (
            "x-amz-checksum-crc32",
            base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode(),
        )
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "docs", key)
    headers = sign("PUT", url, ak, sk, extra, payload_hash=mode)
    body = _signed_chunked(data, sk, headers, trailer)
    if tamper:
        cut = body.index(b"chunk-signature=") + len(b"chunk-signature=")
        body = body[:cut] + (b"0" if body[cut : cut + 1] != b"0" else b"1") + body[cut + 1 :]
    response = send("PUT", url, headers, body)
    stored = s3.get_object(Bucket="docs", Key=key)["Body"].read()
    if tamper:
        assert (response.status, response.error_code) == (403, "SignatureDoesNotMatch")
        assert stored == b"old object"
    else:
        assert response.status == 200, response.body
        assert stored == data


def test_idle_tls_connection_does_not_hold_up_shutdown(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    import http.client
    import signal
    import ssl

    authority = trustme.CA()
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem")
    )
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    proxy = start_proxy(
        seaweed,
        upstream_s3,
        tmp_path,
        server={
            "tls_cert": str(tmp_path / "server.pem"),
            "tls_key": str(tmp_path / "server.pem"),
            "shutdown_timeout": 2,
        },
    )
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    connection = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=context)
    connection.request("GET", "/")
    connection.getresponse().read()  # the connection now idles, kept alive, never closed
    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.process.wait(timeout=15) == 0
    connection.close()
