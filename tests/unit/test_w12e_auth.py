"""Authentication round (wave 12, E): what a hostile client could get served.

Each case failed before its fix: an aws-chunked ``STREAMING-*`` payload hash on an operation
whose body no chunk signature is checked for (PutObjectTagging applied a body no signature
covered), PutObjectAcl by a key that may write but not read the object (it made the object
public-read and fetched it anonymously), SigV4a answered as a malformed request, and a SigV2
GetObjectAttributes whose signer signed ``attributes`` as a sub-resource.

The in-process gateway sits in front of an upstream nobody listens on (as in
test_grants_app): a refusal with no receive call and no 5xx proves that no body byte was read
and no upstream request made.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.auth.dispatch import authenticate
from s3proxy.auth.sigv2 import verify_sigv2_header, verify_sigv2_query
from s3proxy.auth.sigv4 import join_headers
from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation
from s3proxy.request import S3Request, parse_query
from tests.support import asgi
from tests.support.asgi import Answer, call_app, scoped_tenant_settings
from tests.support.s3http import object_url, sign

WRITER = ("AKW12EWRITER", "writer-secret-aaaaaaaaaaaaaaaaaa")
WHOLE = ("AKW12EWHOLE", "whole-secret-bbbbbbbbbbbbbbbbbbb")
ENDPOINT = "http://127.0.0.1:9000"
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
TAGS = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return scoped_tenant_settings(
        WRITER,
        [
            {"actions": ["write"], "buckets": ["docs"], "prefixes": ["in/"]},
            {"actions": ["read"], "buckets": ["docs"], "prefixes": ["pub/"]},
        ],
        WHOLE,
    )


def call(
    settings: Settings,
    method: str,
    url: str,
    keys: tuple[str, str],
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    payload_hash: str | None = None,
) -> Answer:
    """One signed request through the in-process gateway; ``payload_hash``: the
    x-amz-content-sha256 declared instead of the body's (botocore would compute it)."""

    async def run() -> Answer:
        gateway = Gateway(settings)
        try:
            return await call_app(S3App(gateway), method, url, keys, body, headers)
        finally:
            await gateway.close()

    with pytest.MonkeyPatch.context() as patch:
        if payload_hash is not None:
            patch.setattr(asgi, "sign", functools.partial(sign, payload_hash=payload_hash))
        return asyncio.run(run())


# --- aws-chunked payloads outside the uploads ------------------------------------------------


@pytest.mark.parametrize("mode", [SIGNED, UNSIGNED_TRAILER])
def test_a_streaming_tagging_body_is_refused_unread(settings: Settings, mode: str) -> None:
    """A plain body under a STREAMING hash: no signature covers it; it was applied (200)."""
    url = object_url(ENDPOINT, "docs", "k", "tagging")
    answer = call(settings, "PUT", url, WHOLE, TAGS, payload_hash=mode)
    assert (answer.status, answer.code, answer.receives) == (501, "NotImplemented", 0)
    assert b"<Header>x-amz-content-sha256</Header>" in answer.body


def test_a_streaming_delete_objects_body_is_refused_unread(settings: Settings) -> None:
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    url = object_url(ENDPOINT, "docs", query="delete")
    answer = call(settings, "POST", url, WHOLE, body, {"Content-MD5": md5}, payload_hash=SIGNED)
    assert (answer.status, answer.code, answer.receives) == (501, "NotImplemented", 0)


def _request(headers: dict[str, str]) -> S3Request:
    pairs = list(headers.items())
    return S3Request(
        "PUT", "/docs/k", "tagging", {"tagging": ""}, pairs, join_headers(pairs), "docs", "k"
    )


@pytest.mark.parametrize(
    ("operation", "payload", "headers", "refused"),
    [
        (Operation.PutObjectTagging, SIGNED, {"content-length": "80"}, True),
        (
            Operation.CompleteMultipartUpload,
            UNSIGNED_TRAILER,
            {"transfer-encoding": "chunked"},
            True,
        ),
        (Operation.PutBucketCors, SIGNED, {"content-length": "80"}, True),
        (Operation.PutObject, SIGNED, {"content-length": "80"}, False),
        (Operation.UploadPart, UNSIGNED_TRAILER, {"content-length": "80"}, False),
        (Operation.PutObjectTagging, "UNSIGNED-PAYLOAD", {"content-length": "80"}, False),
        (Operation.PutObjectTagging, "a" * 64, {"content-length": "80"}, False),
        (Operation.GetObject, SIGNED, {}, False),  # no body: nothing is read
        (Operation.DeleteObject, SIGNED, {"content-length": "0"}, False),
    ],
)
def test_streaming_bodies_only_where_they_are_decoded(
    operation: Operation, payload: str, headers: dict[str, str], refused: bool
) -> None:
    from s3proxy.auth.payload import check_streaming_body

    request = _request(headers)
    if not refused:
        check_streaming_body(request, operation, payload)
        return
    with pytest.raises(S3Error) as caught:
        check_streaming_body(request, operation, payload)
    assert caught.value.code is S3ErrorCode.NotImplemented


# --- scoped keys: PutObjectAcl decides who reads ------------------------------------------


def test_put_object_acl_needs_read_as_well_as_write(settings: Settings) -> None:
    """A write-only key made an object it may not read public-read (then read it anonymously)."""
    url = object_url(ENDPOINT, "docs", "in/alice-only", "acl")
    answer = call(settings, "PUT", url, WRITER, headers={"x-amz-acl": "public-read"})
    assert (answer.status, answer.code, answer.receives) == (403, "AccessDenied", 0)
    assert b"do not allow read on docs/in/alice-only" in answer.body
    # Writing the object itself, with a public ACL, stays a write: its bytes are the key's own.
    url = object_url(ENDPOINT, "docs", "in/own")
    answer = call(settings, "PUT", url, WRITER, b"x", {"x-amz-acl": "public-read"})
    assert answer.status >= 500 and answer.code != "AccessDenied"  # reached the upstream


# --- SigV4a ----------------------------------------------------------------------------------

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


def _authenticate(request: S3Request) -> object:
    return authenticate(
        request, {WHOLE[0]: WHOLE[1]}.get, NOW, max_skew=900, region=None, allow_v2=True
    )


def test_sigv4a_header_is_not_implemented() -> None:
    authorization = (
        f"AWS4-ECDSA-P256-SHA256 Credential={WHOLE[0]}/20261204/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=3045022100ab"
    )
    pairs = [("host", "127.0.0.1:9000"), ("x-amz-date", "20261204T120000Z")]
    pairs += [("x-amz-region-set", "*"), ("authorization", authorization)]
    request = S3Request("GET", "/docs/k", "", {}, pairs, join_headers(pairs), "docs", "k")
    with pytest.raises(S3Error) as caught:
        _authenticate(request)
    assert caught.value.code is S3ErrorCode.NotImplemented
    assert "AWS4-HMAC-SHA256" in caught.value.message


def test_sigv4a_presigned_is_not_implemented() -> None:
    query = (
        "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256"
        f"&X-Amz-Credential={WHOLE[0]}%2F20261204%2Fs3%2Faws4_request"
        "&X-Amz-Date=20261204T120000Z&X-Amz-Expires=60&X-Amz-Region-Set=%2A"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=3045022100ab"
    )
    pairs = [("host", "127.0.0.1:9000")]
    request = S3Request(
        "GET", "/docs/k", query, parse_query(query), pairs, join_headers(pairs), "docs", "k"
    )
    with pytest.raises(S3Error) as caught:
        _authenticate(request)
    assert caught.value.code is S3ErrorCode.NotImplemented


def test_an_unknown_scheme_is_still_invalid_argument() -> None:
    pairs = [("host", "h"), ("authorization", "Bearer abc")]
    request = S3Request("GET", "/docs/k", "", {}, pairs, join_headers(pairs), "docs", "k")
    with pytest.raises(S3Error) as caught:
        _authenticate(request)
    assert caught.value.code is S3ErrorCode.InvalidArgument


# --- SigV2 GetObjectAttributes ---------------------------------------------------------------


def _v2(string_to_sign: str) -> str:
    digest = hmac.digest(WHOLE[1].encode(), string_to_sign.encode(), "sha1")
    return base64.b64encode(digest).decode()


@pytest.mark.parametrize("resource", ["/docs/k", "/docs/k?attributes"])
def test_sigv2_attributes_signed_either_way(resource: str) -> None:
    """botocore's HmacV1Auth leaves ``attributes`` out of the resource; a signer that signs
    every sub-resource puts it in. Both name the same read."""
    date = format_datetime(NOW, usegmt=True)
    amz = "x-amz-object-attributes:ETag\n"
    signature = _v2(f"GET\n\n\n{date}\n{amz}{resource}")
    headers = [
        ("host", "h"),
        ("date", date),
        ("x-amz-object-attributes", "ETag"),
        ("authorization", f"AWS {WHOLE[0]}:{signature}"),
    ]
    lookup = {WHOLE[0]: WHOLE[1]}.get
    verified = verify_sigv2_header("GET", "/docs/k", "attributes", headers, lookup, NOW)
    assert verified.access_key == WHOLE[0]
    # Signed with the sub-resource, the signature does not carry over to a plain GET.
    if resource.endswith("?attributes"):
        with pytest.raises(S3Error) as caught:
            verify_sigv2_header("GET", "/docs/k", "", headers, lookup, NOW)
        assert caught.value.code is S3ErrorCode.SignatureDoesNotMatch


def test_sigv2_query_attributes_signed() -> None:
    expires = str(int(NOW.timestamp()) + 60)
    signature = _v2(f"GET\n\n\n{expires}\n/docs/k?attributes")
    query = f"attributes&AWSAccessKeyId={WHOLE[0]}&Expires={expires}&Signature="
    query += signature.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    lookup = {WHOLE[0]: WHOLE[1]}.get
    verified = verify_sigv2_query("GET", "/docs/k", query, [("host", "h")], lookup, NOW)
    assert verified.access_key == WHOLE[0]
