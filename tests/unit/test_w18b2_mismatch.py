"""SignatureDoesNotMatch tells the client what the gateway signed, as S3 does (wave 18, B2).

S3's answer to a signature that does not verify carries ``AWSAccessKeyId``, ``StringToSign``,
``SignatureProvided``, ``StringToSignBytes`` and, for SigV4, ``CanonicalRequest`` and
``CanonicalRequestBytes``, in that order, the bytes as space-separated two-digit lower-case hex
(answers quoted in aws/aws-cli#4356, s3tools/s3cmd#1053; SigV2's four fields in
satoshi7/ActionScript-API…#1). An aws-chunked chunk or trailer signature is answered with that
chunk's string to sign and the seed's canonical request (versitygw's signed-chunk-reader).
botocore is the oracle: the strings it signed (recorded from its signers) are the ones shown
when only the secret differs. Nothing secret is shown: never the expected signature, the
signing key or the secret. Pure: no network, no clock but the request's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import xml.etree.ElementTree as ET
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import RestXMLParser

from s3proxy.auth.chunked import ChunkedContext, decode_aws_chunked
from s3proxy.auth.presigned import verify_presigned_v4
from s3proxy.auth.sigv2 import verify_sigv2_header, verify_sigv2_query
from s3proxy.auth.sigv4 import EMPTY_SHA256, sign, signing_key, verify_header_auth
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.xmlcodec import error_xml

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WRONG = "not-the-secret-of-this-key"
URL = "http://127.0.0.1:9000/bkt/photos/a%20b.jpg?tagging"
V4_FIELDS = [
    "AWSAccessKeyId",
    "StringToSign",
    "SignatureProvided",
    "StringToSignBytes",
    "CanonicalRequest",
    "CanonicalRequestBytes",
]
V2_FIELDS = V4_FIELDS[:4]
Wire = tuple[str, str, str, list[tuple[str, str]]]


def lookup(access_key: str) -> str | None:
    return SK if access_key == AK else None


class RecordingV4(S3SigV4Auth):
    """botocore's header signer, keeping the strings it signed."""

    canonical = ""
    to_sign = ""

    def string_to_sign(self, request: Any, canonical_request: str) -> str:
        self.canonical = canonical_request
        self.to_sign = str(super().string_to_sign(request, canonical_request))
        return self.to_sign


class RecordingQueryV4(S3SigV4QueryAuth):
    canonical = ""
    to_sign = ""

    def string_to_sign(self, request: Any, canonical_request: str) -> str:
        self.canonical = canonical_request
        self.to_sign = str(super().string_to_sign(request, canonical_request))
        return self.to_sign


class RecordingV2(HmacV1Auth):
    to_sign = ""

    def canonical_string(self, *args: Any, **kwargs: Any) -> str:
        self.to_sign = str(super().canonical_string(*args, **kwargs))
        return self.to_sign


class RecordingQueryV2(HmacV1QueryAuth):
    to_sign = ""

    def canonical_string(self, *args: Any, **kwargs: Any) -> str:
        self.to_sign = str(super().canonical_string(*args, **kwargs))
        return self.to_sign


def wire(request: AWSRequest) -> Wire:
    split = urlsplit(request.url)
    headers = [(name, str(value)) for name, value in request.headers.items()]
    return request.method, split.path, split.query, headers


def header_signed(
    secret: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"data",
    payload: str | None = None,
) -> tuple[Wire, RecordingV4]:
    request = AWSRequest(method="PUT", url=URL, headers=dict(headers or {}), data=body)
    request.headers["Host"] = "127.0.0.1:9000"
    signer = RecordingV4(Credentials(AK, secret), "s3", "us-east-1")
    if payload is not None:  # declare a streaming payload, as an aws-chunked client does
        signer.payload = lambda _request: payload
    signer.add_auth(request)
    return wire(request), signer


def when(headers: list[tuple[str, str]]) -> datetime:
    amz_date = next(v for k, v in headers if k.lower() == "x-amz-date")
    return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def refused(call: Any) -> S3Error:
    with pytest.raises(S3Error) as caught:
        call()
    assert caught.value.code is S3ErrorCode.SignatureDoesNotMatch and caught.value.status == 403
    return caught.value


def v4_refusal(request: Wire) -> S3Error:
    return refused(lambda: verify_header_auth(*request, lookup, when(request[3])))


def provided_signature(headers: list[tuple[str, str]]) -> str:
    authorization = next(v for k, v in headers if k.lower() == "authorization")
    return authorization.rsplit("Signature=", 1)[1]


def hexed(text: str) -> str:
    return " ".join(f"{byte:02x}" for byte in text.encode("utf-8"))


def as_botocore_reads_it(error: S3Error) -> dict[str, Any]:
    """The error document as botocore's parser hands it to a ClientError."""
    body = error_xml(error, "REQUESTID")
    parsed = RestXMLParser().parse({"body": body, "headers": {}, "status_code": 403}, None)
    return dict(parsed["Error"])


def assert_nothing_secret(error: S3Error, *secrets: str) -> None:
    body = error_xml(error, "REQUESTID").decode()
    for secret in (SK, *secrets):
        assert secret not in body
        assert hexed(secret) not in body


def test_header_signed_mismatch_shows_what_botocore_signed() -> None:
    request, signer = header_signed(WRONG, {"x-amz-meta-colour": "blue"})
    error = v4_refusal(request)
    assert list(error.fields) == V4_FIELDS
    assert error.fields["AWSAccessKeyId"] == AK
    assert error.fields["StringToSign"] == signer.to_sign
    assert error.fields["StringToSignBytes"] == hexed(signer.to_sign)
    assert error.fields["CanonicalRequest"] == signer.canonical
    assert error.fields["CanonicalRequestBytes"] == hexed(signer.canonical)
    assert error.fields["SignatureProvided"] == provided_signature(request[3])
    assert signer.canonical.startswith("PUT\n/bkt/photos/a%20b.jpg\ntagging=\n")
    # What the client would have had to send, and the key it is made with, are never shown.
    amz_date = when(request[3]).strftime("%Y%m%d")
    key = signing_key(SK, amz_date, "us-east-1")
    assert_nothing_secret(error, sign(key, signer.to_sign), key.hex(), key.hex(" "))
    assert as_botocore_reads_it(error) == {
        "Code": "SignatureDoesNotMatch",
        "Message": S3ErrorCode.SignatureDoesNotMatch.default_message,
        **error.fields,
    }


def test_a_signature_that_cannot_match_is_shown_as_sent() -> None:
    request, signer = header_signed(SK)
    method, path, query, headers = request
    sent = provided_signature(headers)
    tampered = [
        (k, v.replace(sent, "NOT-HEX") if k.lower() == "authorization" else v) for k, v in headers
    ]
    error = v4_refusal((method, path, query, tampered))
    assert error.fields["SignatureProvided"] == "NOT-HEX"
    assert error.fields["StringToSign"] == signer.to_sign  # the canonical form is the same
    assert_nothing_secret(error, sent)  # the right signature, which only the secret makes


def test_a_signed_header_left_out_is_canonicalised_empty() -> None:
    request, signer = header_signed(SK, {"x-amz-meta-colour": "blue"})
    method, path, query, headers = request
    without = [(k, v) for k, v in headers if k.lower() != "x-amz-meta-colour"]
    error = v4_refusal((method, path, query, without))
    assert "\nx-amz-meta-colour:\n" in error.fields["CanonicalRequest"]
    assert error.fields["CanonicalRequest"] == signer.canonical.replace(
        "x-amz-meta-colour:blue", "x-amz-meta-colour:"
    )


def test_header_bytes_are_the_bytes_received() -> None:
    """A header value is canonicalised as the bytes on the wire (read as ISO-8859-1): the
    ``…Bytes`` field has them exactly, the text field shows them as UTF-8."""
    request, signer = header_signed(WRONG, {"x-amz-meta-name": "café"})
    method, path, query, headers = request
    on_wire = [(k, v.encode().decode("latin-1")) for k, v in headers]
    error = v4_refusal((method, path, query, on_wire))
    assert error.fields["CanonicalRequest"] == signer.canonical
    assert error.fields["CanonicalRequestBytes"] == hexed(signer.canonical)
    assert "63 61 66 c3 a9" in error.fields["CanonicalRequestBytes"]


def presigned(secret: str, url: str = URL) -> tuple[Wire, RecordingQueryV4]:
    request = AWSRequest(method="GET", url=url)
    request.headers["Host"] = "127.0.0.1:9000"
    signer = RecordingQueryV4(Credentials(AK, secret), "s3", "us-east-1", expires=900)
    signer.add_auth(request)
    return wire(request), signer


def presigned_refusal(request: Wire) -> S3Error:
    amz_date = request[2].split("X-Amz-Date=", 1)[1][:16]
    now = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return refused(lambda: verify_presigned_v4(*request, lookup, now))


def test_presigned_mismatch_shows_what_botocore_signed() -> None:
    request, signer = presigned(WRONG)
    error = presigned_refusal(request)
    assert list(error.fields) == V4_FIELDS
    assert error.fields["StringToSign"] == signer.to_sign
    assert error.fields["CanonicalRequest"] == signer.canonical
    assert error.fields["CanonicalRequestBytes"] == hexed(signer.canonical)
    assert error.fields["SignatureProvided"] == request[2].rsplit("X-Amz-Signature=", 1)[1]
    assert "X-Amz-Signature" not in error.fields["CanonicalRequest"]
    assert error.fields["CanonicalRequest"].endswith("\nUNSIGNED-PAYLOAD")
    assert_nothing_secret(error)


def test_presigned_hash_in_the_query_shows_the_unsigned_payload_form() -> None:
    """A query X-Amz-Content-Sha256 may have been signed as itself or as UNSIGNED-PAYLOAD
    (botocore's presigner); both are tried, and the one shown is S3's, UNSIGNED-PAYLOAD."""
    request, _ = presigned(WRONG)
    method, path, query, headers = request
    error = presigned_refusal(
        (method, path, f"{query}&X-Amz-Content-Sha256={EMPTY_SHA256}", headers)
    )
    assert error.fields["CanonicalRequest"].endswith("\nUNSIGNED-PAYLOAD")
    assert f"X-Amz-Content-Sha256={EMPTY_SHA256}" in error.fields["CanonicalRequest"]


def test_a_control_character_in_a_presigned_signature_keeps_the_document_readable() -> None:
    request, _ = presigned(WRONG)
    method, path, query, headers = request
    query = query.rsplit("X-Amz-Signature=", 1)[0] + "X-Amz-Signature=%01bad"
    error = presigned_refusal((method, path, query, headers))
    assert error.fields["SignatureProvided"] == "\ufffdbad"
    assert ET.fromstring(error_xml(error, "R")).findtext("SignatureProvided") == "\ufffdbad"


def v2_signed(secret: str, *, query: bool = False) -> tuple[Wire, RecordingV2]:
    request = AWSRequest(method="GET", url="http://127.0.0.1:9000/bkt/photos/a%20b.jpg?acl")
    request.headers["Host"] = "127.0.0.1:9000"
    credentials = Credentials(AK, secret)
    signer = RecordingQueryV2(credentials, expires=900) if query else RecordingV2(credentials)
    signer.add_auth(request)
    return wire(request), signer


def test_sigv2_header_mismatch_shows_the_string_to_sign() -> None:
    request, signer = v2_signed(WRONG)
    date = next(v for k, v in request[3] if k.lower() == "date")
    now = datetime.strptime(date, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    error = refused(lambda: verify_sigv2_header(*request, lookup, now))
    assert list(error.fields) == V2_FIELDS
    assert error.fields["AWSAccessKeyId"] == AK
    assert error.fields["StringToSign"] == signer.to_sign
    assert error.fields["StringToSignBytes"] == hexed(signer.to_sign)
    authorization = next(v for k, v in request[3] if k.lower() == "authorization")
    assert error.fields["SignatureProvided"] == authorization.rsplit(":", 1)[1]
    expected = RecordingV2(Credentials(AK, SK)).sign_string(signer.to_sign)
    assert_nothing_secret(error, expected)


def test_sigv2_query_mismatch_shows_the_string_to_sign() -> None:
    request, signer = v2_signed(WRONG, query=True)
    error = refused(lambda: verify_sigv2_query(*request, lookup, datetime.now(UTC)))
    assert list(error.fields) == V2_FIELDS
    assert error.fields["StringToSign"] == signer.to_sign
    assert error.fields["StringToSignBytes"] == hexed(signer.to_sign)


# --- aws-chunked: the seed verified, a chunk or the trailer does not -------------------

MODE = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
DATA = b"a" * 8192 + b"b" * 100


def chunked_context(trailer: str | None = None) -> tuple[ChunkedContext, RecordingV4]:
    mode = MODE + ("-TRAILER" if trailer else "")
    headers = {"x-amz-decoded-content-length": str(len(DATA)), "Content-Encoding": "aws-chunked"}
    if trailer:
        headers["x-amz-trailer"] = trailer
    request, signer = header_signed(SK, headers, body=b"", payload=mode)
    auth = verify_header_auth(*request, lookup, when(request[3]))
    joined = {k.lower(): v for k, v in request[3]}
    return ChunkedContext.from_request(auth, joined), signer


def chunk_to_sign(ctx: ChunkedContext, previous: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return (
        f"AWS4-HMAC-SHA256-PAYLOAD\n{ctx.amz_date}\n{ctx.scope}\n{previous}\n"
        f"{EMPTY_SHA256}\n{digest}"
    )


def chunked_refusal(ctx: ChunkedContext, body: bytes) -> S3Error:
    async def source() -> AsyncIterator[bytes]:
        yield body

    async def drain() -> None:
        async for _ in decode_aws_chunked(source(), ctx):
            pass

    return refused(lambda: asyncio.run(drain()))


def test_a_bad_seed_signature_is_a_header_mismatch_over_the_streaming_payload() -> None:
    """The seed is the Authorization header's signature: S3 shows its canonical request, whose
    payload line is the STREAMING-… value (jcberquist/aws-cfml#9 quotes one)."""
    headers = {"x-amz-decoded-content-length": "5", "Content-Encoding": "aws-chunked"}
    request, signer = header_signed(WRONG, headers, body=b"", payload=MODE)
    error = v4_refusal(request)
    assert error.fields["CanonicalRequest"] == signer.canonical
    assert error.fields["CanonicalRequest"].endswith(f"\n{MODE}")
    assert error.fields["StringToSign"] == signer.to_sign


def test_a_bad_first_chunk_signature_shows_that_chunk_and_the_seed_request() -> None:
    ctx, signer = chunked_context()
    first = chunk_to_sign(ctx, ctx.seed_signature, DATA[:8192])
    bad = "0" * 64
    body = b"2000;chunk-signature=%s\r\n%s\r\n" % (bad.encode(), DATA[:8192])
    error = chunked_refusal(ctx, body + b"64;chunk-signature=x\r\n")
    assert list(error.fields) == V4_FIELDS
    assert error.fields["AWSAccessKeyId"] == AK
    assert error.fields["StringToSign"] == first
    assert error.fields["StringToSignBytes"] == hexed(first)
    assert error.fields["SignatureProvided"] == bad
    assert error.fields["CanonicalRequest"] == signer.canonical
    assert error.fields["CanonicalRequestBytes"] == hexed(signer.canonical)
    assert_nothing_secret(error, sign(ctx.signing_key, first), ctx.signing_key.hex())


def test_a_bad_later_chunk_signature_chains_from_the_one_that_verified() -> None:
    ctx, _ = chunked_context()
    first = sign(ctx.signing_key, chunk_to_sign(ctx, ctx.seed_signature, DATA[:8192]))
    second = chunk_to_sign(ctx, first, DATA[8192:])
    body = b"2000;chunk-signature=%s\r\n%s\r\n" % (first.encode(), DATA[:8192])
    body += b"64;chunk-signature=%s\r\n%s\r\n" % (b"1" * 64, DATA[8192:])
    error = chunked_refusal(ctx, body)
    assert error.fields["StringToSign"] == second
    assert error.fields["SignatureProvided"] == "1" * 64
    assert_nothing_secret(error, sign(ctx.signing_key, second))


def test_a_bad_trailer_signature_shows_the_trailer_string_to_sign() -> None:
    ctx, signer = chunked_context("x-amz-checksum-crc32")
    previous = ctx.seed_signature
    body = b""
    for piece in (DATA[:8192], DATA[8192:], b""):
        previous = sign(ctx.signing_key, chunk_to_sign(ctx, previous, piece))
        body += b"%x;chunk-signature=%s\r\n" % (len(piece), previous.encode())
        body += piece + b"\r\n" if piece else b""
    crc = base64.b64encode(zlib.crc32(DATA).to_bytes(4, "big")).decode()
    trailer = f"x-amz-checksum-crc32:{crc}\n"
    body += trailer.replace("\n", "\r\n").encode()
    body += b"x-amz-trailer-signature:%s\r\n\r\n" % (b"2" * 64)
    error = chunked_refusal(ctx, body)
    to_sign = (
        f"AWS4-HMAC-SHA256-TRAILER\n{ctx.amz_date}\n{ctx.scope}\n{previous}\n"
        f"{hashlib.sha256(trailer.encode()).hexdigest()}"
    )
    assert error.fields["StringToSign"] == to_sign
    assert error.fields["SignatureProvided"] == "2" * 64
    assert error.fields["CanonicalRequest"] == signer.canonical
    assert_nothing_secret(error, sign(ctx.signing_key, to_sign))
