"""SigV4 presigned URLs (s3proxy.auth.presigned), with botocore as the oracle.

URLs come from a real boto3 client's ``generate_presigned_url`` (``signature_version="s3v4"``)
or from botocore's ``S3SigV4QueryAuth`` on an ``AWSRequest``; ours verifies the raw path and
query as ``urlsplit`` gives them. Pure: no network, and ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from s3proxy.auth.presigned import verify_presigned_v4
from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD, VerifiedSigV4, signing_key
from s3proxy.errors import S3Error, S3ErrorCode

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = {AK: SK, "AKOTHER": "other+secret"}
ENDPOINT = "http://127.0.0.1:9000"
HOST = "127.0.0.1:9000"
HEX = "ab" * 32
MISSING = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)


@dataclass(frozen=True)
class Presigned:
    """A presigned request as the proxy sees it."""

    method: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]

    @property
    def params(self) -> list[tuple[str, str]]:
        return [(p.partition("=")[0], p.partition("=")[2]) for p in self.query.split("&")]

    def param(self, name: str) -> str:
        return next(v for k, v in self.params if k == name)

    @property
    def time(self) -> datetime:
        return datetime.strptime(self.param("X-Amz-Date"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def with_param(self, name: str, value: str | None) -> Presigned:
        """Replace (None: remove) the raw value of ``name``; append it when absent."""
        params = [(k, v) for k, v in self.params if k != name]
        if value is not None:
            old = [i for i, (k, _) in enumerate(self.params) if k == name]
            params.insert(old[0] if old else len(params), (name, value))
        return replace(self, query="&".join(f"{k}={v}" for k, v in params))

    def with_header(self, name: str, value: str) -> Presigned:
        return replace(self, headers=(*self.headers, (name, value)))


def from_url(url: str, method: str = "GET", headers: Sequence[tuple[str, str]] = ()) -> Presigned:
    parts = urlsplit(url)
    return Presigned(method, parts.path, parts.query, (("Host", parts.netloc), *headers))


def verify(
    request: Presigned,
    now: datetime | None = None,
    lookup: Callable[[str], str | None] = SECRETS.get,
    **kwargs: Any,
) -> VerifiedSigV4:
    return verify_presigned_v4(
        request.method,
        request.raw_path,
        request.query,
        request.headers,
        lookup,
        request.time if now is None else now,
        **kwargs,
    )


def expect_error(code: S3ErrorCode, call: Callable[[], object]) -> S3Error:
    with pytest.raises(S3Error) as info:
        call()
    assert info.value.code is code, info.value
    assert SK not in info.value.message
    return info.value


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    yield client
    client.close()


def presign(s3: Any, operation: str = "get_object", expires: int = 3600, **params: Any) -> str:
    params.setdefault("Bucket", "bkt")
    if operation != "list_objects_v2":
        params.setdefault("Key", "k")
    url: str = s3.generate_presigned_url(operation, Params=params, ExpiresIn=expires)
    return url


# ---------------------------------------------------------------- botocore's URLs verify

KEYS = ["k", "a b", "a+b", "100%", "a%2Fb", "é/ü/日本", "~user/x", "a/../b//c/", "$&'()*,;=:@!"]


@pytest.mark.parametrize("key", KEYS)
def test_get_object_urls_verify(s3: Any, key: str) -> None:
    request = from_url(presign(s3, Key=key))
    verified = verify(request)
    assert verified.access_key == AK
    assert verified.payload_hash == UNSIGNED_PAYLOAD
    assert verified.amz_date == request.param("X-Amz-Date")
    assert verified.signature == request.param("X-Amz-Signature")
    assert verified.credential.region == "us-east-1"
    assert verified.signing_key == signing_key(SK, verified.amz_date[:8], "us-east-1")


def test_response_overrides_are_signed(s3: Any) -> None:
    request = from_url(
        presign(
            s3,
            ResponseContentType="text/plain; charset=utf-8",
            ResponseContentDisposition='attachment; filename="a b+c.txt"',
            ResponseCacheControl="no-cache",
        )
    )
    verify(request)
    tampered = request.with_param("response-content-type", "text/html")
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(tampered))


@pytest.mark.parametrize(
    ("operation", "method", "params"),
    [
        ("upload_part", "PUT", {"UploadId": "2~u/+=x y", "PartNumber": 3}),
        ("create_multipart_upload", "POST", {}),
        ("complete_multipart_upload", "POST", {"UploadId": "abc"}),
        ("list_objects_v2", "GET", {"Prefix": "a b/", "Delimiter": "/"}),
        ("delete_object", "DELETE", {"VersionId": "v+1"}),
        ("head_object", "HEAD", {}),
    ],
)
def test_other_operations_verify(
    s3: Any, operation: str, method: str, params: dict[str, Any]
) -> None:
    verify(from_url(presign(s3, operation, **params), method))


def test_signed_headers_must_be_sent_as_signed(s3: Any) -> None:
    url = presign(s3, "put_object", Metadata={"Foo": " bar  baz "}, ContentType="text/x")
    assert "content-type%3Bhost%3Bx-amz-meta-foo" in url
    sent = [("Content-Type", "text/x"), ("x-amz-meta-foo", " bar  baz ")]
    assert verify(from_url(url, "PUT", sent)).payload_hash == UNSIGNED_PAYLOAD
    other = [("Content-Type", "text/y"), ("x-amz-meta-foo", "bar baz")]
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(from_url(url, "PUT", other)))
    # A header listed in X-Amz-SignedHeaders but not sent can never match.
    only = [("Content-Type", "text/x")]
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(from_url(url, "PUT", only)))


def test_virtual_hosted_url() -> None:
    client = boto3.client(
        "s3",
        endpoint_url="http://s3.example.com",
        region_name="eu-west-1",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}),
    )
    url = client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a b"})
    request = from_url(url)
    assert request.headers[0] == ("Host", "bkt.s3.example.com")
    assert request.raw_path == "/a%20b"
    assert verify(request, region="eu-west-1").credential.region == "eu-west-1"


def test_uppercase_signature_hex_is_accepted(s3: Any) -> None:
    request = from_url(presign(s3))
    verify(request.with_param("X-Amz-Signature", request.param("X-Amz-Signature").upper()))


# ---------------------------------------------------------------- time


def test_expiry_boundaries(s3: Any) -> None:
    request = from_url(presign(s3, expires=60))
    verify(request, now=request.time + timedelta(seconds=60))
    verify(request, now=(request.time + timedelta(seconds=1)).replace(tzinfo=None))
    error = expect_error(
        S3ErrorCode.AccessDenied,
        lambda: verify(request, now=request.time + timedelta(seconds=61)),
    )
    assert error.message == "Request has expired"
    assert error.fields["X-Amz-Expires"] == "60"
    assert error.fields["Expires"] == (request.time + timedelta(seconds=60)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_request_from_the_future(s3: Any) -> None:
    request = from_url(presign(s3))
    verify(request, now=request.time - timedelta(seconds=900))
    error = expect_error(
        S3ErrorCode.AccessDenied, lambda: verify(request, now=request.time - timedelta(seconds=901))
    )
    assert error.message == "Request is not valid yet"
    verify(request, now=request.time - timedelta(seconds=1000), max_skew=1000)


def test_a_week_is_the_limit(s3: Any) -> None:
    verify(from_url(presign(s3, expires=604800)))
    error = expect_error(
        S3ErrorCode.AuthorizationQueryParametersError,
        lambda: verify(from_url(presign(s3, expires=604801))),
    )
    assert "604800 seconds" in error.message


@pytest.mark.parametrize(
    "value", ["", "abc", "-5", "0", "1.5", "+10", " 10", "604801", "١٢", "9" * 5000]
)
def test_bad_expires(s3: Any, value: str) -> None:
    request = from_url(presign(s3)).with_param("X-Amz-Expires", value)
    expect_error(S3ErrorCode.AuthorizationQueryParametersError, lambda: verify(request))


# ---------------------------------------------------------------- tampering


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: r.with_param("X-Amz-Expires", "7200"),
        lambda r: r.with_param("versionId", "v1"),
        lambda r: r.with_param("x-id", "GetObject"),
        lambda r: r.with_param("X-Amz-SignedHeaders", "host%3Bx-amz-meta-a").with_header(
            "x-amz-meta-a", "1"
        ),
        lambda r: replace(r, raw_path=r.raw_path + "x"),
        lambda r: replace(r, raw_path=r.raw_path.upper()),
        lambda r: replace(r, method="PUT"),
        lambda r: replace(r, headers=(("Host", "127.0.0.1:9001"),)),
        lambda r: r.with_param("X-Amz-Signature", "0" * 64),
        lambda r: r.with_param("X-Amz-Signature", "not-hex"),
    ],
)
def test_tampered_requests_do_not_match(s3: Any, tamper: Callable[[Presigned], Presigned]) -> None:
    request = from_url(presign(s3, Key="key/x"))
    verify(request)
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(tamper(request)))


def test_wrong_secret_and_unknown_key(s3: Any) -> None:
    request = from_url(presign(s3))
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(request, lookup={AK: "x"}.get))
    expect_error(
        S3ErrorCode.InvalidAccessKeyId, lambda: verify(request, lookup=dict[str, str]().get)
    )


@pytest.mark.parametrize(
    ("param", "value"),
    [
        (param, value)
        for param in (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-Date",
            "X-Amz-SignedHeaders",
            "X-Amz-Expires",
        )
        for value in (None, "")
        # An empty X-Amz-SignedHeaders signs no header: 403 for host (test_w17d_signed_headers).
        if (param, value) != ("X-Amz-SignedHeaders", "")
    ],
)
def test_missing_parameters(s3: Any, param: str, value: str | None) -> None:
    signed = from_url(presign(s3))
    request = signed.with_param(param, value)
    error = expect_error(
        S3ErrorCode.AuthorizationQueryParametersError, lambda: verify(request, signed.time)
    )
    assert error.message == MISSING


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1"),
        ("X-Amz-Date", "2026-01-01T00:00:00Z"),
        ("X-Amz-Date", "20261399T000000Z"),
        ("X-Amz-Credential", AK),
        ("X-Amz-Credential", f"{AK}%2F20260101%2Fus-east-1%2Fs3"),
        ("X-Amz-Credential", f"{AK}%2F20260101%2Fus-east-1%2Fec2%2Faws4_request"),
        ("X-Amz-Credential", f"{AK}%2F20260101%2Fus-east-1%2Fs3%2Faws5_request"),
        ("X-Amz-Credential", "%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"),
        ("X-Amz-SignedHeaders", "host%3B%3Bx"),
    ],
)
def test_malformed_parameters(s3: Any, param: str, value: str) -> None:
    signed = from_url(presign(s3))
    request = signed.with_param(param, value)
    expect_error(
        S3ErrorCode.AuthorizationQueryParametersError, lambda: verify(request, signed.time)
    )


def test_credential_date_must_match_x_amz_date(s3: Any) -> None:
    request = from_url(presign(s3))
    day = request.param("X-Amz-Date")[:8]
    other = (request.time - timedelta(days=1)).strftime("%Y%m%d")
    credential = request.param("X-Amz-Credential").replace(day, other)
    error = expect_error(
        S3ErrorCode.AuthorizationQueryParametersError,
        lambda: verify(request.with_param("X-Amz-Credential", credential)),
    )
    assert "X-Amz-Date" in error.message


def test_region_is_strict_when_configured(s3: Any) -> None:
    request = from_url(presign(s3))
    verify(request, region="us-east-1")
    error = expect_error(
        S3ErrorCode.AuthorizationQueryParametersError,
        lambda: verify(request, region="eu-central-1"),
    )
    assert error.fields == {"Region": "eu-central-1"}


# ---------------------------------------------------------------- headers that were not signed


@pytest.mark.parametrize(
    "header",
    [("x-amz-meta-evil", "1"), ("X-Amz-Acl", "public-read"), ("x-amz-content-sha256", HEX)],
)
def test_unsigned_amz_header_is_refused(s3: Any, header: tuple[str, str]) -> None:
    request = from_url(presign(s3)).with_header(*header)
    error = expect_error(S3ErrorCode.AccessDenied, lambda: verify(request))
    assert error.fields["HeadersNotSigned"] == header[0].lower()


def test_host_must_be_signed(s3: Any) -> None:
    request = from_url(presign(s3)).with_param("X-Amz-SignedHeaders", "x-amz-date")
    error = expect_error(S3ErrorCode.AccessDenied, lambda: verify(request))
    assert error.fields["HeadersNotSigned"] == "host"


def test_amz_query_parameters_need_no_signed_header(s3: Any) -> None:
    """Query parameters are in the canonical query: signed as they are, never "unsigned"."""
    url = presign(s3, "put_object", ACL="public-read")
    assert "x-amz-acl" in url  # botocore signs it as a header …
    request = from_url(url, "PUT", [("x-amz-acl", "public-read")])
    verify(request)
    stripped = replace(request, headers=request.headers[:1])  # … which must then be sent
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(stripped))


# ---------------------------------------------------------------- payload hash


def botocore_presigned(
    url: str,
    method: str = "PUT",
    headers: Sequence[tuple[str, str]] = (),
    signer: type[S3SigV4QueryAuth] = S3SigV4QueryAuth,
) -> Presigned:
    request = AWSRequest(method=method, url=url)
    for name, value in headers:
        request.headers[name] = value
    signer(Credentials(AK, SK), "s3", "us-east-1", expires=300).add_auth(request)
    return from_url(request.url, method, headers)


def test_signed_content_sha256_header_is_the_payload_hash() -> None:
    request = botocore_presigned(f"{ENDPOINT}/bkt/k", headers=[("X-Amz-Content-SHA256", HEX)])
    assert "x-amz-content-sha256" in request.param("X-Amz-SignedHeaders")
    assert verify(request).payload_hash == HEX
    wrong = replace(request, headers=(request.headers[0], ("X-Amz-Content-SHA256", "cd" * 32)))
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(wrong))


class _HoistedHashAuth(S3SigV4QueryAuth):  # type: ignore[misc]
    """aws-sdk-go style: the hash travels as a query parameter and is the canonical payload."""

    def payload(self, request: Any) -> str:
        return HEX


@pytest.mark.parametrize("signer", [S3SigV4QueryAuth, _HoistedHashAuth])
def test_content_sha256_query_parameter(signer: type[S3SigV4QueryAuth]) -> None:
    """botocore signs UNSIGNED-PAYLOAD, aws-sdk-go the value: either way the body must match."""
    request = botocore_presigned(f"{ENDPOINT}/bkt/k?X-Amz-Content-Sha256={HEX}", signer=signer)
    assert verify(request).payload_hash == HEX
    tampered = request.with_param("X-Amz-Content-Sha256", "cd" * 32)
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(tampered))


@pytest.mark.parametrize(
    ("query", "header"),
    [
        ("X-Amz-Content-Sha256=STREAMING-AWS4-HMAC-SHA256-PAYLOAD", None),
        ("X-Amz-Content-Sha256=abc", None),
        (None, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        (f"X-Amz-Content-Sha256={HEX}", "cd" * 32),
    ],
)
def test_bad_or_conflicting_content_sha256(query: str | None, header: str | None) -> None:
    url = f"{ENDPOINT}/bkt/k" + (f"?{query}" if query else "")
    headers = [("x-amz-content-sha256", header)] if header else []
    request = botocore_presigned(url, headers=headers)
    expect_error(S3ErrorCode.InvalidArgument, lambda: verify(request))


def test_explicit_unsigned_payload_header() -> None:
    request = botocore_presigned(
        f"{ENDPOINT}/bkt/{quote('a b')}", headers=[("x-amz-content-sha256", UNSIGNED_PAYLOAD)]
    )
    assert verify(request).payload_hash == UNSIGNED_PAYLOAD
