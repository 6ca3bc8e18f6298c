"""Hostile input I: SigV4 header auth, presigned URLs, aws-chunked bodies and HTTP framing.

Each request is signed by botocore (the reference) and then broken in exactly one place, sent
byte for byte, and must get the answer S3 gives: status, error code, our own request id, no
traceback or upstream name in the body, and nothing stored (checked afterwards with a signed
GET). The aws-chunked expectations are the ones measured against S3 by the versitygw project
(its integration suite: malformed framing is 400 IncompleteBody, a trailer that does not match
x-amz-trailer is 400 MalformedTrailerError, a missing or non-numeric
x-amz-decoded-content-length is 411 MissingContentLength, a non-final chunk under 8 KiB is
InvalidChunkSizeError in every streaming mode). The framing probes run on both HTTP engines.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.client
import os
import socket
import ssl
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import botocore.auth
import pytest
import trustme
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3proxy.auth.sigv4 import sign as hmac_hex
from s3proxy.auth.sigv4 import signing_key
from tests.integration.conftest import BOB_BUCKET, HOME_BUCKET, PHOTOS_BUCKET, Proxy, start_proxy
from tests.integration.test_engine import ENGINES
from tests.support.s3http import (
    RawResponse,
    aws_chunked_headers,
    object_url,
    send,
    sign,
    signed,
)

pytestmark = pytest.mark.integration

BUCKET = "docs"
EMPTY = hashlib.sha256(b"").hexdigest()
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
CHUNK = 64 * 1024


def unique(name: str) -> str:
    return f"hostile/{name}-{os.urandom(4).hex()}"


def assert_s3_error(proxy: Proxy, response: RawResponse, status: int, code: str) -> None:
    """The S3 answer, with our request id and nothing of the upstream or of Python in it."""
    assert (response.status, response.error_code) == (status, code), response.body[:600]
    request_id = response.header("x-amz-request-id")
    assert request_id is not None and request_id.encode() in response.body
    for secret in (HOME_BUCKET, PHOTOS_BUCKET, BOB_BUCKET, "Traceback", 'File "'):
        assert secret.encode() not in response.body
    if proxy.upstream_port is not None:
        assert f":{proxy.upstream_port}".encode() not in response.body


def stored(proxy: Proxy, key: str) -> bytes | None:
    ak, sk = proxy.keys("alice")
    response = signed("GET", object_url(proxy.endpoint, BUCKET, key), ak, sk)
    if response.status == 404:
        assert response.error_code == "NoSuchKey"
        return None
    assert response.status == 200, response.body
    return response.body


def put_old(proxy: Proxy, key: str) -> None:
    proxy.client("alice").put_object(Bucket=BUCKET, Key=key, Body=b"old object")


# --- SigV4 header authentication -------------------------------------------------------------


def _replace_auth(old: str, new: str) -> Callable[[dict[str, str]], None]:
    def tamper(headers: dict[str, str]) -> None:
        assert old in headers["Authorization"]
        headers["Authorization"] = headers["Authorization"].replace(old, new, 1)

    return tamper


def _signed_headers(new: str) -> Callable[[dict[str, str]], None]:
    def tamper(headers: dict[str, str]) -> None:
        head, _, rest = headers["Authorization"].partition("SignedHeaders=")
        _, _, tail = rest.partition(",")
        headers["Authorization"] = f"{head}SignedHeaders={new},{tail}"

    return tamper


def _signature(new: str) -> Callable[[dict[str, str]], None]:
    def tamper(headers: dict[str, str]) -> None:
        head, _, _ = headers["Authorization"].rpartition("Signature=")
        headers["Authorization"] = f"{head}Signature={new}"

    return tamper


def _set(name: str, value: str | None) -> Callable[[dict[str, str]], None]:
    def tamper(headers: dict[str, str]) -> None:
        for present in [n for n in headers if n.lower() == name.lower()]:
            del headers[present]
        if value is not None:
            headers[name] = value

    return tamper


def _credential_date(headers: dict[str, str]) -> None:
    date = headers["X-Amz-Date"][:8]
    headers["Authorization"] = headers["Authorization"].replace(f"/{date}/", "/20200101/", 1)


HEADER_AUTH_CASES: dict[str, tuple[Callable[[dict[str, str]], None], int, str]] = {
    "credential-4-parts": (
        _replace_auth("/s3/aws4_request", "/s3"),
        400,
        "AuthorizationHeaderMalformed",
    ),
    "credential-6-parts": (
        _replace_auth("/aws4_request", "/aws4_request/x"),
        400,
        "AuthorizationHeaderMalformed",
    ),
    "service-ec2": (_replace_auth("/s3/", "/ec2/"), 400, "AuthorizationHeaderMalformed"),
    "terminator": (
        _replace_auth("aws4_request", "aws5_request"),
        400,
        "AuthorizationHeaderMalformed",
    ),
    "scope-date": (_credential_date, 400, "AuthorizationHeaderMalformed"),
    "no-credential": (
        _replace_auth("Credential=", "Credentials="),
        400,
        "AuthorizationHeaderMalformed",
    ),
    "field-twice": (
        _replace_auth("SignedHeaders=", "SignedHeaders=host, SignedHeaders="),
        400,
        "AuthorizationHeaderMalformed",
    ),
    "no-signature": (_signature(""), 400, "AuthorizationHeaderMalformed"),
    "algorithm": (_replace_auth("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 "), 400, "InvalidArgument"),
    # The same names listed unsorted or in upper case sign the same request, as S3 reads them
    # (lower-cased, sorted): accepted, tests/unit/test_w17d_signed_headers.py.
    "host-not-signed": (_signed_headers("x-amz-content-sha256;x-amz-date"), 403, "AccessDenied"),
    "signed-header-absent": (
        _signed_headers("host;x-amz-content-sha256;x-amz-date;x-amz-meta-absent"),
        403,
        "SignatureDoesNotMatch",
    ),
    "signature-63-hex": (_signature("a" * 63), 403, "SignatureDoesNotMatch"),
    "signature-65-hex": (_signature("a" * 65), 403, "SignatureDoesNotMatch"),
    "signature-not-hex": (_signature("z" * 64), 403, "SignatureDoesNotMatch"),
    "amz-date-malformed": (_set("X-Amz-Date", "2026-12-03T10:00:00Z"), 403, "AccessDenied"),
    "amz-date-missing": (_set("X-Amz-Date", None), 403, "AccessDenied"),
    "content-sha256-invalid": (_set("x-amz-content-sha256", "abc"), 400, "InvalidArgument"),
    "content-sha256-missing": (_set("x-amz-content-sha256", None), 400, "InvalidRequest"),
    "unknown-access-key": (
        _replace_auth("Credential=AK", "Credential=AKNOBODY"),
        403,
        "InvalidAccessKeyId",
    ),
}


@pytest.mark.one_lane  # refused before any backend call
@pytest.mark.parametrize("case", list(HEADER_AUTH_CASES))
def test_broken_header_auth_stores_nothing(proxy: Proxy, case: str) -> None:
    tamper, status, code = HEADER_AUTH_CASES[case]
    key = unique(case)
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, BUCKET, key)
    response = signed("PUT", url, ak, sk, body=b"hostile", tamper=tamper)
    assert_s3_error(proxy, response, status, code)
    assert stored(proxy, key) is None


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("Authorization", 400, "AuthorizationHeaderMalformed"),
        ("X-Amz-Date", 403, "AccessDenied"),
        ("X-Amz-Content-SHA256", 400, "InvalidArgument"),
    ],
)
def test_a_header_sent_twice_is_not_verified_under_one_value(
    proxy: Proxy, name: str, status: int, code: str
) -> None:
    """Repeats are joined with "," (as the canonical request joins them), never one taken."""
    key = unique("twice")
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, BUCKET, key)
    headers = list(sign("PUT", url, ak, sk, body=b"x").items())
    value = next(v for n, v in headers if n == name)
    response = send_pairs(proxy, "PUT", urlsplit(url).path, [*headers, (name, value)], b"x")
    assert_s3_error(proxy, response, status, code)
    assert stored(proxy, key) is None


@pytest.mark.parametrize("minutes", [-16, 16])
def test_skew_over_15_minutes_either_way(proxy: Proxy, minutes: int) -> None:
    key = unique("skew")
    ak, sk = proxy.keys("alice")
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    response = signed("PUT", object_url(proxy.endpoint, BUCKET, key), ak, sk, body=b"x", when=when)
    assert_s3_error(proxy, response, 403, "RequestTimeTooSkewed")
    assert stored(proxy, key) is None


def test_header_auth_and_query_signature_together(proxy: Proxy) -> None:
    key = unique("both")
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, BUCKET, key, "X-Amz-Signature=" + "0" * 64)
    response = signed("PUT", url, ak, sk, body=b"x")
    assert_s3_error(proxy, response, 400, "InvalidArgument")
    assert stored(proxy, key) is None


def test_payload_hash_of_another_body_stores_nothing(proxy: Proxy) -> None:
    key = unique("sha-mismatch")
    put_old(proxy, key)
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, BUCKET, key)
    other = hashlib.sha256(b"another body").hexdigest()
    response = signed("PUT", url, ak, sk, body=os.urandom(300_000), payload_hash=other)
    assert_s3_error(proxy, response, 400, "XAmzContentSHA256Mismatch")
    assert stored(proxy, key) == b"old object"


def test_unsigned_payload_is_accepted_on_put(proxy: Proxy) -> None:
    key = unique("unsigned-payload")
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, BUCKET, key)
    response = signed("PUT", url, ak, sk, body=b"fine", payload_hash="UNSIGNED-PAYLOAD")
    assert response.status == 200, response.body
    assert stored(proxy, key) == b"fine"


# --- presigned URLs --------------------------------------------------------------------------


def presign(
    proxy: Proxy,
    method: str,
    key: str,
    *,
    expires: int = 300,
    when: datetime.datetime | None = None,
    bucket: str = BUCKET,
) -> str:
    """A SigV4 presigned URL (botocore's query signer), signed at ``when`` (default now)."""
    ak, sk = proxy.keys("alice")
    request = AWSRequest(method=method, url=object_url(proxy.endpoint, bucket, key))
    auth = S3SigV4QueryAuth(Credentials(ak, sk), "s3", "us-east-1", expires=expires)
    original = botocore.auth.get_current_datetime
    if when is not None:
        botocore.auth.get_current_datetime = lambda *a, **k: when.replace(tzinfo=None)
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    return str(request.url)


def with_param(url: str, name: str, value: str) -> str:
    """``url`` with one query parameter replaced (or added), the rest kept byte for byte."""
    base, _, query = url.partition("?")
    parts = [p for p in query.split("&") if p.partition("=")[0] != name]
    return f"{base}?{'&'.join([*parts, urlencode({name: value})])}"


def plain(url: str, method: str = "GET", body: bytes = b"") -> RawResponse:
    headers = {"Host": urlsplit(url).netloc}
    return send(method, url, headers, body)


@pytest.mark.one_lane  # refused before any backend call
@pytest.mark.parametrize("expires", ["0", "-1", "abc", "604801", "99999999999999999999"])
def test_presigned_expires_out_of_range(proxy: Proxy, expires: str) -> None:
    key = unique("expires")
    url = with_param(presign(proxy, "PUT", key), "X-Amz-Expires", expires)
    assert_s3_error(proxy, plain(url, "PUT", b"x"), 400, "AuthorizationQueryParametersError")
    assert stored(proxy, key) is None


def test_presigned_expired_and_not_yet_valid(proxy: Proxy) -> None:
    key = unique("expired")
    now = datetime.datetime.now(datetime.UTC)
    past = presign(proxy, "PUT", key, expires=60, when=now - datetime.timedelta(minutes=5))
    assert_s3_error(proxy, plain(past, "PUT", b"x"), 403, "AccessDenied")
    future = presign(proxy, "PUT", key, when=now + datetime.timedelta(hours=1))
    assert_s3_error(proxy, plain(future, "PUT", b"x"), 403, "AccessDenied")
    assert stored(proxy, key) is None


def test_presigned_url_does_not_carry_over(proxy: Proxy) -> None:
    """A signature is for one method, bucket, key and query: any change is refused."""
    key = unique("reuse")
    put_old(proxy, key)
    url = presign(proxy, "GET", key)
    assert plain(url).body == b"old object"
    assert_s3_error(proxy, plain(url, "PUT", b"new"), 403, "SignatureDoesNotMatch")
    assert_s3_error(proxy, plain(url, "DELETE"), 403, "SignatureDoesNotMatch")
    other_key = url.replace(key, key + "x", 1)
    assert_s3_error(proxy, plain(other_key), 403, "SignatureDoesNotMatch")
    other_bucket = url.replace(f"/{BUCKET}/", "/shared/", 1)
    assert_s3_error(proxy, plain(other_bucket), 403, "SignatureDoesNotMatch")
    extra = url + "&response-content-type=text%2Fhtml"
    assert_s3_error(proxy, plain(extra), 403, "SignatureDoesNotMatch")
    assert stored(proxy, key) == b"old object"


def test_presigned_url_cannot_announce_an_aws_chunked_body(proxy: Proxy) -> None:
    key = unique("presigned-streaming")
    url = with_param(presign(proxy, "PUT", key), "x-amz-content-sha256", UNSIGNED_TRAILER)
    body = b"5\r\nhello\r\n0\r\n\r\n"
    assert_s3_error(proxy, plain(url, "PUT", body), 400, "InvalidArgument")
    assert stored(proxy, key) is None


def test_presigned_url_with_a_security_token(proxy: Proxy) -> None:
    """Tenants sign with long-term keys: a session token (signed, in the query) is refused."""
    key = unique("token")
    ak, sk = proxy.keys("alice")
    request = AWSRequest(method="PUT", url=object_url(proxy.endpoint, BUCKET, key))
    S3SigV4QueryAuth(Credentials(ak, sk, "session-token"), "s3", "us-east-1").add_auth(request)
    assert "X-Amz-Security-Token" in request.url
    assert_s3_error(proxy, plain(str(request.url), "PUT", b"x"), 400, "InvalidToken")
    assert stored(proxy, key) is None


# --- aws-chunked bodies ----------------------------------------------------------------------


@dataclass
class Chunked:
    """One aws-chunked upload: the signed headers and a way to build its wire body."""

    url: str
    headers: dict[str, str]
    mode: str
    secret: str

    @property
    def seed(self) -> str:
        return self.headers["Authorization"].rsplit("Signature=", 1)[1]

    def wire(
        self,
        data: bytes,
        *,
        sizes: list[int] | None = None,
        trailer: tuple[str, str] | None = None,
        seed: str | None = None,
    ) -> bytes:
        """Chunks of ``sizes`` (default CHUNK each), the final 0-chunk, then ``trailer``; each
        chunk signed in the signed modes, chained from ``seed`` (default: this request's)."""
        amz_date = self.headers["X-Amz-Date"]
        scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
        key = signing_key(self.secret, amz_date[:8], "us-east-1")
        pieces: list[bytes] = []
        offset = 0
        for size in sizes or [CHUNK] * -(-len(data) // CHUNK):
            pieces.append(data[offset : offset + size])
            offset += size
        assert offset >= len(data)
        pieces.append(b"")
        out, previous = bytearray(), seed or self.seed
        for piece in pieces:
            if self.mode == UNSIGNED_TRAILER:
                out += f"{len(piece):x}\r\n".encode()
            else:
                digest = hashlib.sha256(piece).hexdigest()
                previous = hmac_hex(
                    key,
                    f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{EMPTY}\n{digest}",
                )
                out += f"{len(piece):x};chunk-signature={previous}\r\n".encode()
            if piece:
                out += piece + b"\r\n"
        if trailer is not None:
            out += f"{trailer[0]}:{trailer[1]}\r\n".encode()
            if self.mode == SIGNED_TRAILER:
                canonical = f"{trailer[0]}:{trailer[1]}\n"
                digest = hashlib.sha256(canonical.encode()).hexdigest()
                signature = hmac_hex(
                    key, f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{previous}\n{digest}"
                )
                out += f"x-amz-trailer-signature:{signature}\r\n".encode()
        return bytes(out + b"\r\n")


def chunked_upload(
    proxy: Proxy,
    key: str,
    mode: str,
    decoded_length: int | None,
    trailer: str | None = None,
    extra: dict[str, str] | None = None,
) -> Chunked:
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, BUCKET, key)
    headers = aws_chunked_headers(decoded_length or 0, trailer)
    if decoded_length is None:
        del headers["x-amz-decoded-content-length"]
    headers.update(extra or {})
    return Chunked(url, sign("PUT", url, ak, sk, headers, payload_hash=mode), mode, sk)


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


DATA = bytes(range(256)) * 1200  # 300 KiB: five 64 KiB chunks, more than one decoded block
TRAILER_MODES = (SIGNED_TRAILER, UNSIGNED_TRAILER)


def _good(mode: str) -> tuple[str | None, tuple[str, str] | None]:
    if mode == SIGNED:
        return None, None
    return "x-amz-checksum-crc32", ("x-amz-checksum-crc32", crc32(DATA))


@pytest.mark.parametrize("mode", [SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER])
def test_well_formed_aws_chunked_is_stored(proxy: Proxy, mode: str) -> None:
    key = unique("chunked-ok")
    declared, trailer = _good(mode)
    upload = chunked_upload(proxy, key, mode, len(DATA), declared)
    response = send("PUT", upload.url, upload.headers, upload.wire(DATA, trailer=trailer))
    assert response.status == 200, response.body
    assert stored(proxy, key) == DATA


def _framing_cases(wire: bytes) -> dict[str, bytes]:
    """Wire bodies broken in their framing, from a good one."""
    first_line_end = wire.index(b"\r\n")
    size_field, _, extensions = wire[:first_line_end].partition(b";")
    rest = wire[first_line_end:]
    ext = b";" + extensions if extensions else b""
    data_end = first_line_end + 2 + CHUNK
    assert wire[data_end : data_end + 2] == b"\r\n"
    final = wire.rindex(b"\r\n0")
    return {
        "size-not-hex": b"zz" + ext + rest,
        "size-negative": b"-" + size_field + ext + rest,
        "size-over-2-63": b"8000000000000000" + ext + rest,
        "size-17-digits": b"1" + size_field.rjust(16, b"0") + ext + rest,
        "chunk-longer": wire[:data_end] + b"!!" + wire[data_end:],
        "chunk-shorter": wire[: data_end - 2] + wire[data_end:],
        "crlf-missing-after-data": wire[:data_end] + wire[data_end + 2 :],
        "crlf-missing-after-size": wire[:first_line_end] + wire[first_line_end + 2 :],
        "bare-lf": wire[:first_line_end] + b"\n" + wire[first_line_end + 2 :],
        "no-final-chunk": wire[: final + 2],
        "no-final-crlf": wire[:-2],
        "bytes-after-the-end": wire + b"0\r\n\r\n",
    }


FRAMING = list(_framing_cases(b"10000\r\n" + b"a" * CHUNK + b"\r\n0\r\n\r\n"))


@pytest.mark.parametrize("mode", [SIGNED, UNSIGNED_TRAILER])
@pytest.mark.parametrize("case", FRAMING)
def test_broken_aws_chunked_framing_is_incomplete_body(proxy: Proxy, mode: str, case: str) -> None:
    key = unique(f"framing-{case}")
    put_old(proxy, key)
    declared, trailer = _good(mode)
    upload = chunked_upload(proxy, key, mode, len(DATA), declared)
    body = _framing_cases(upload.wire(DATA, trailer=trailer))[case]
    response = send("PUT", upload.url, upload.headers, body)
    assert_s3_error(proxy, response, 400, "IncompleteBody")
    assert stored(proxy, key) == b"old object"


@pytest.mark.parametrize("mode", [SIGNED, SIGNED_TRAILER])
def test_a_bad_chunk_signature_late_in_the_body_stores_nothing(proxy: Proxy, mode: str) -> None:
    """Megabytes have gone upstream when the bad chunk arrives: not a truncated object."""
    key = unique("late-signature")
    put_old(proxy, key)
    data = os.urandom(40 * CHUNK)
    declared = "x-amz-checksum-crc32" if mode == SIGNED_TRAILER else None
    upload = chunked_upload(proxy, key, mode, len(data), declared)
    trailer = ("x-amz-checksum-crc32", crc32(data)) if declared else None
    wire = upload.wire(data, trailer=trailer)
    at = wire.index(b"chunk-signature=", 35 * (CHUNK + 90)) + len(b"chunk-signature=")
    wire = wire[:at] + (b"0" if wire[at : at + 1] != b"0" else b"1") + wire[at + 1 :]
    response = send("PUT", upload.url, upload.headers, wire)
    assert_s3_error(proxy, response, 403, "SignatureDoesNotMatch")
    assert stored(proxy, key) == b"old object"


def test_chunk_signatures_of_another_request_are_refused(proxy: Proxy) -> None:
    key = unique("replayed-chunks")
    first = chunked_upload(proxy, key, SIGNED, len(DATA))
    replayed = first.wire(DATA)
    second = chunked_upload(proxy, key, SIGNED, len(DATA), extra={"x-amz-meta-try": "2"})
    assert second.seed != first.seed
    response = send("PUT", second.url, second.headers, replayed)
    assert_s3_error(proxy, response, 403, "SignatureDoesNotMatch")
    assert stored(proxy, key) is None


@pytest.mark.parametrize("mode", [SIGNED, UNSIGNED_TRAILER])
def test_small_chunks_before_the_last(proxy: Proxy, mode: str) -> None:
    key = unique("small-chunks")
    data = os.urandom(20_000)
    declared, _ = _good(mode)
    trailer = ("x-amz-checksum-crc32", crc32(data)) if declared else None
    upload = chunked_upload(proxy, key, mode, len(data), declared)
    response = send(
        "PUT", upload.url, upload.headers, upload.wire(data, sizes=[8191, 11809], trailer=trailer)
    )
    assert_s3_error(proxy, response, 403, "InvalidChunkSizeError")
    assert stored(proxy, key) is None
    # 8 KiB exactly, then a short last chunk: what SDKs send.
    response = send(
        "PUT", upload.url, upload.headers, upload.wire(data, sizes=[8192, 11808], trailer=trailer)
    )
    assert response.status == 200, response.body
    assert stored(proxy, key) == data


@pytest.mark.parametrize("length", [None, "abc", "12x", ""])
def test_decoded_length_missing_or_not_a_number(proxy: Proxy, length: str | None) -> None:
    key = unique("decoded-length")
    upload = chunked_upload(proxy, key, UNSIGNED_TRAILER, None, "x-amz-checksum-crc32")
    if length is not None:
        upload = chunked_upload(
            proxy,
            key,
            UNSIGNED_TRAILER,
            None,
            "x-amz-checksum-crc32",
            {"x-amz-decoded-content-length": length},
        )
    body = upload.wire(DATA, trailer=("x-amz-checksum-crc32", crc32(DATA)))
    assert_s3_error(
        proxy, send("PUT", upload.url, upload.headers, body), 411, "MissingContentLength"
    )
    assert stored(proxy, key) is None


@pytest.mark.parametrize("mode", [SIGNED, UNSIGNED_TRAILER])
@pytest.mark.parametrize("delta", [-1, 1])
def test_decoded_length_that_does_not_match(proxy: Proxy, mode: str, delta: int) -> None:
    key = unique("decoded-mismatch")
    declared, trailer = _good(mode)
    upload = chunked_upload(proxy, key, mode, len(DATA) + delta, declared)
    response = send("PUT", upload.url, upload.headers, upload.wire(DATA, trailer=trailer))
    assert_s3_error(proxy, response, 400, "IncompleteBody")
    assert stored(proxy, key) is None


TRAILER_CASES: dict[str, tuple[str | None, tuple[str, str] | None, int, str]] = {
    # x-amz-trailer, trailer sent, status, code
    "wrong-value": (
        "x-amz-checksum-crc32",
        ("x-amz-checksum-crc32", crc32(b"other")),
        400,
        "BadDigest",
    ),
    "not-base64": (
        "x-amz-checksum-crc32",
        ("x-amz-checksum-crc32", "invalid"),
        400,
        "InvalidRequest",
    ),
    "other-algorithm": (
        "x-amz-checksum-crc32",
        ("x-amz-checksum-sha256", sha256_b64(DATA)),
        400,
        "MalformedTrailerError",
    ),
    "missing": ("x-amz-checksum-crc32", None, 400, "MalformedTrailerError"),
    "not-declared": (None, ("x-amz-checksum-crc32", crc32(DATA)), 400, "MalformedTrailerError"),
    "unknown-name": (
        "x-amz-checksum-crc32",
        ("x-amz-invalid", "AAAAAA=="),
        400,
        "MalformedTrailerError",
    ),
}


@pytest.mark.parametrize("mode", TRAILER_MODES)
@pytest.mark.parametrize("case", list(TRAILER_CASES))
def test_bad_trailers_store_nothing(proxy: Proxy, mode: str, case: str) -> None:
    declared, trailer, status, code = TRAILER_CASES[case]
    key = unique(f"trailer-{case}")
    put_old(proxy, key)
    upload = chunked_upload(proxy, key, mode, len(DATA), declared)
    response = send("PUT", upload.url, upload.headers, upload.wire(DATA, trailer=trailer))
    assert_s3_error(proxy, response, status, code)
    assert stored(proxy, key) == b"old object"


@pytest.mark.parametrize("breakage", ["payload-hash", "chunk-signature"])
def test_a_refused_part_is_not_listed(proxy: Proxy, breakage: str) -> None:
    """UploadPart verifies its body as PutObject does: a refused part leaves no part behind."""
    s3 = proxy.client("alice")
    key = unique(f"part-{breakage}")
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    try:
        ak, sk = proxy.keys("alice")
        query = f"partNumber=1&uploadId={upload_id}"
        url = object_url(proxy.endpoint, BUCKET, key, query)
        data = os.urandom(20 * CHUNK)
        if breakage == "payload-hash":
            other = hashlib.sha256(b"another body").hexdigest()
            response = signed("PUT", url, ak, sk, body=data, payload_hash=other)
            assert_s3_error(proxy, response, 400, "XAmzContentSHA256Mismatch")
        else:
            headers = sign("PUT", url, ak, sk, aws_chunked_headers(len(data)), payload_hash=SIGNED)
            upload = Chunked(url, headers, SIGNED, sk)
            wire = upload.wire(data)
            at = wire.rindex(b"chunk-signature=", 0, len(wire) - 3 * CHUNK) + 16
            wire = wire[:at] + (b"0" if wire[at : at + 1] != b"0" else b"1") + wire[at + 1 :]
            response = send("PUT", url, headers, wire)
            assert_s3_error(proxy, response, 403, "SignatureDoesNotMatch")
        assert s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id).get("Parts", []) == []
    finally:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)


def lane_exchange(proxy: Proxy, data: bytes) -> bytes:
    """``data``, then end of input (the client gives up), then whatever the proxy answers."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                reply += chunk
    return reply


@pytest.mark.parametrize("mode", ["plain", UNSIGNED_TRAILER, SIGNED])
def test_a_body_cut_off_by_the_client_replaces_nothing(proxy: Proxy, mode: str) -> None:
    """Megabytes sent, then the client stops: upstream never completes the object."""
    key = unique(f"cut-off-{mode}")
    put_old(proxy, key)
    data = os.urandom(3 * 1024 * 1024)
    path = urlsplit(object_url(proxy.endpoint, BUCKET, key)).path
    if mode == "plain":
        ak, sk = proxy.keys("alice")
        url = object_url(proxy.endpoint, BUCKET, key)
        headers = sign(
            "PUT", url, ak, sk, {"Content-Length": str(len(data))}, payload_hash="UNSIGNED-PAYLOAD"
        )
        wire = data
    else:
        declared, _ = _good(mode)
        upload = chunked_upload(proxy, key, mode, len(data), declared)
        trailer = ("x-amz-checksum-crc32", crc32(data)) if declared else None
        wire = upload.wire(data, trailer=trailer)
        headers = {**upload.headers, "Content-Length": str(len(wire))}
    head = "".join(f"{n}: {v}\r\n" for n, v in headers.items())
    request = f"PUT {path} HTTP/1.1\r\n{head}\r\n".encode()
    lane_exchange(proxy, request + wire[: 2 * 1024 * 1024])
    assert stored(proxy, key) == b"old object"


# --- HTTP framing, on both engines -----------------------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
def engine_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    proxy = start_proxy(
        None, None, tmp_path_factory.mktemp("hostile"), server={"engine": request.param}
    )
    try:
        yield proxy
    finally:
        proxy.process.stop()


def send_pairs(
    proxy: Proxy, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> RawResponse:
    """Headers as a list (repeats allowed), no Content-Length added unless given."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body and not any(name.lower() == "content-length" for name, _ in headers):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return RawResponse(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def exchange(proxy: Proxy, data: bytes, *, close_write: bool = False) -> bytes:
    """Raw bytes in, everything the server sends until it closes out."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
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


def parse_reply(reply: bytes) -> RawResponse:
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
    response = RawResponse(int(status_line.split(" ")[1]), headers, body)
    length = response.header("content-length")
    if length is not None:
        response.body = body[: int(length)]
    return response


def raw_head(proxy: Proxy, method: str, key: str, extra: dict[str, str], **kw: object) -> bytes:
    """A signed request head for ``key``, as bytes, with ``extra`` headers signed too."""
    ak, sk = proxy.keys("alice")
    headers = sign(method, object_url(proxy.endpoint, BUCKET, key), ak, sk, extra, **kw)  # type: ignore[arg-type]
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    path = urlsplit(object_url(proxy.endpoint, BUCKET, key)).path
    return f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


@pytest.mark.parametrize("length", ["-5", "+5", "5x", "0x5", " "])
def test_content_length_not_a_number(engine_proxy: Proxy, length: str) -> None:
    key = unique("content-length")
    head = raw_head(
        engine_proxy,
        "PUT",
        key,
        {"Content-Length": length, "Connection": "close"},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    response = parse_reply(exchange(engine_proxy, head + b"hello"))
    assert_s3_error(engine_proxy, response, 400, "InvalidRequest")
    assert stored(engine_proxy, key) is None


@pytest.mark.parametrize(
    "framing",
    [
        [("Content-Length", "5"), ("Content-Length", "6")],
        [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
    ],
    ids=["two-lengths", "length-and-chunked", "chunked-twice"],
)
def test_ambiguous_framing_stores_nothing(
    engine_proxy: Proxy, framing: list[tuple[str, str]]
) -> None:
    key = unique("ambiguous")
    ak, sk = engine_proxy.keys("alice")
    url = object_url(engine_proxy.endpoint, BUCKET, key)
    headers = list(sign("PUT", url, ak, sk, payload_hash="UNSIGNED-PAYLOAD").items())
    head = "".join(f"{n}: {v}\r\n" for n, v in [*headers, *framing, ("Connection", "close")])
    request = f"PUT {urlsplit(url).path} HTTP/1.1\r\n{head}\r\n".encode()
    reply = exchange(engine_proxy, request + b"5\r\nhello\r\n0\r\n\r\n")
    assert reply.count(b"HTTP/1.1 ") == 1
    response = parse_reply(reply)
    assert response.status in (400, 501)
    assert_s3_error(engine_proxy, response, response.status, response.error_code or "")
    assert response.error_code in ("InvalidRequest", "NotImplemented")
    assert stored(engine_proxy, key) is None


def test_a_url_over_the_head_limit(engine_proxy: Proxy) -> None:
    ak, sk = engine_proxy.keys("alice")
    query = "prefix=" + "p" * 20_000
    response = signed("GET", object_url(engine_proxy.endpoint, BUCKET, None, query), ak, sk)
    assert_s3_error(engine_proxy, response, 400, "RequestHeaderSectionTooLarge")


def test_body_shorter_than_content_length_then_close(engine_proxy: Proxy) -> None:
    key = unique("short-body")
    put_old(engine_proxy, key)
    head = raw_head(
        engine_proxy, "PUT", key, {"Content-Length": "100000"}, payload_hash="UNSIGNED-PAYLOAD"
    )
    exchange(engine_proxy, head + b"x" * 5000, close_write=True)
    assert stored(engine_proxy, key) == b"old object"


def test_expect_100_continue_refused_without_reading_the_body(engine_proxy: Proxy) -> None:
    """A refused upload (bad signature) is answered at once: the body is never asked for."""
    key = unique("expect")
    head = raw_head(
        engine_proxy,
        "PUT",
        key,
        {"Content-Length": "1000000", "Expect": "100-continue"},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    at = head.index(b"Signature=") + len(b"Signature=")
    tampered = head[:at] + (b"0" if head[at : at + 1] != b"0" else b"1") + head[at + 1 :]
    with socket.create_connection(("127.0.0.1", engine_proxy.port), timeout=30) as sock:
        sock.sendall(tampered)
        reply = b""
        while b"</Error>" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert b"100 Continue" not in reply  # on Hypercorn too, since wave 12 K
    assert_s3_error(engine_proxy, parse_reply(reply), 403, "SignatureDoesNotMatch")
    assert stored(engine_proxy, key) is None


def test_a_url_of_10_kib(engine_proxy: Proxy) -> None:
    ak, sk = engine_proxy.keys("alice")
    response = signed("GET", object_url(engine_proxy.endpoint, BUCKET, "k" * 10_240), ak, sk)
    assert_s3_error(engine_proxy, response, 400, "KeyTooLongError")
    query = "prefix=" + "p" * 10_240
    response = signed("GET", object_url(engine_proxy.endpoint, BUCKET, None, query), ak, sk)
    assert response.status == 200, response.body


def test_200_headers_are_served(engine_proxy: Proxy) -> None:
    key = unique("many-headers")
    extra = {f"X-Filler-{n}": "v" for n in range(200)}
    ak, sk = engine_proxy.keys("alice")
    url = object_url(engine_proxy.endpoint, BUCKET, key)
    response = send("GET", url, {**sign("GET", url, ak, sk), **extra})
    assert_s3_error(engine_proxy, response, 404, "NoSuchKey")


@pytest.mark.parametrize("value", [b"a\x00b", b"a\rb"], ids=["nul", "cr"])
def test_control_characters_in_a_header(engine_proxy: Proxy, value: bytes) -> None:
    key = unique("header-ctl")
    head = raw_head(
        engine_proxy, "PUT", key, {"Connection": "close"}, payload_hash="UNSIGNED-PAYLOAD"
    )
    head = head.replace(b"\r\n\r\n", b"\r\nX-Bad: " + value + b"\r\nContent-Length: 1\r\n\r\nx")
    response = parse_reply(exchange(engine_proxy, head))
    assert_s3_error(engine_proxy, response, 400, "InvalidRequest")
    assert stored(engine_proxy, key) is None


@pytest.mark.parametrize(
    ("raw_key", "status", "code"),
    [
        (b"bad%zzescape", 400, "InvalidURI"),
        (b"bad%", 400, "InvalidURI"),
        (b"bad%C3%28", 400, "InvalidURI"),
        (b"bad\xc3\x28", 400, "InvalidURI"),  # raw bytes read as their escapes (wave 18)
    ],
    ids=["not-hex", "truncated", "invalid-utf8-escaped", "invalid-utf8-raw"],
)
def test_bad_escapes_and_bytes_in_the_path(
    engine_proxy: Proxy, raw_key: bytes, status: int, code: str
) -> None:
    ak, sk = engine_proxy.keys("alice")
    headers = sign("GET", object_url(engine_proxy.endpoint, BUCKET, "placeholder"), ak, sk)
    lines = "".join(f"{n}: {v}\r\n" for n, v in headers.items())
    head = (
        b"GET /docs/" + raw_key + b" HTTP/1.1\r\n" + lines.encode() + b"Connection: close\r\n\r\n"
    )
    response = parse_reply(exchange(engine_proxy, head))
    assert_s3_error(engine_proxy, response, status, code)


@pytest.mark.parametrize("key", ["nul\x00key", "slash/in%2Fkey"])
def test_nul_and_encoded_slash_keys_round_trip(engine_proxy: Proxy, key: str) -> None:
    """``%00`` and ``%2F`` are key bytes like any other (the local store keeps them exactly)."""
    s3 = engine_proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"odd")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"odd"
    s3.delete_object(Bucket=BUCKET, Key=key)


def test_bytes_past_content_length_are_answered_after_the_request(engine_proxy: Proxy) -> None:
    """The stray byte is the start of a malformed next request: the PUT is answered first
    (exactly Content-Length bytes stored), then the refusal, then the connection closes."""
    key = unique("past-length")
    head = raw_head(
        engine_proxy, "PUT", key, {"Content-Length": "2"}, payload_hash="UNSIGNED-PAYLOAD"
    )
    reply = exchange(engine_proxy, head + b"bar\r\n\r\n")  # "r": a whole bad request line
    assert parse_reply(reply).status == 200, reply
    second = parse_reply(reply[reply.index(b"HTTP/1.1 ", 1) :])
    assert_s3_error(engine_proxy, second, 400, "InvalidRequest")
    assert stored(engine_proxy, key) == b"ba"
    assert "Cannot call write()" not in engine_proxy.process.log_text()


def test_a_lower_case_method_is_not_served(engine_proxy: Proxy) -> None:
    """Methods are case-sensitive (RFC 9110 §9.1): "put" is not PUT."""
    key = unique("lower-method")
    head = raw_head(
        engine_proxy,
        "PUT",
        key,
        {"Content-Length": "1", "Connection": "close"},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    reply = exchange(engine_proxy, b"put" + head[3:] + b"x")
    assert_s3_error(engine_proxy, parse_reply(reply), 400, "InvalidRequest")
    assert stored(engine_proxy, key) is None


def test_http2_prior_knowledge_is_refused(engine_proxy: Proxy) -> None:
    """HTTP/2 is not served (Hypercorn would switch to it: none of the HTTP/1.1 limits hold)."""
    reply = exchange(engine_proxy, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert_s3_error(engine_proxy, parse_reply(reply), 400, "InvalidRequest")


def test_an_h2c_upgrade_stays_on_http1(engine_proxy: Proxy) -> None:
    upgrade = {
        "Connection": "Upgrade, HTTP2-Settings",
        "Upgrade": "h2c",
        "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA",
    }
    head = raw_head(engine_proxy, "GET", unique("h2c"), upgrade)
    reply = exchange(engine_proxy, head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert reply.startswith(b"HTTP/1.1 404 Not Found\r\n"), reply[:200]
    assert_s3_error(engine_proxy, parse_reply(reply), 404, "NoSuchKey")


@pytest.mark.parametrize("engine", ENGINES)
def test_tls_offers_only_http1(tmp_path: Path, engine: str) -> None:
    authority = trustme.CA()
    pem = str(tmp_path / "server.pem")
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(pem)
    proxy = start_proxy(
        None, None, tmp_path, server={"engine": engine, "tls_cert": pem, "tls_key": pem}
    )
    try:
        context = ssl.create_default_context()
        authority.configure_trust(context)
        context.set_alpn_protocols(["h2", "http/1.1"])
        with (
            socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            assert sock.selected_alpn_protocol() in (None, "http/1.1")
    finally:
        proxy.process.stop()
