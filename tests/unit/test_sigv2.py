"""Signature Version 2 (s3proxy.auth.sigv2), header and query forms, with botocore as the oracle.

Header requests come from a real botocore client (``signature_version="s3"``, i.e. HmacV1Auth)
stopped at ``before-send``; query requests from boto3's default ``generate_presigned_url``
(HmacV1QueryAuth); s3cmd's way (x-amz-date instead of Date) is rebuilt from its source. Pure:
no network, and ``now`` is always passed in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import boto3  # type: ignore[import-untyped]
import botocore.session
import pytest
from botocore.auth import HmacV1Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials

from s3proxy.auth.sigv2 import (
    SIGNED_SUBRESOURCES,
    VerifiedSigV2,
    canonical_amz_headers,
    canonical_resource,
    query_pairs,
    verify_sigv2_header,
    verify_sigv2_query,
)
from s3proxy.auth.sigv4 import UNSIGNED_PAYLOAD
from s3proxy.errors import S3Error, S3ErrorCode

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = {AK: SK, "AKOTHER": "other+secret"}
ENDPOINT = "http://127.0.0.1:9000"
INVALID_HEADER = "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
QUERY_MISSING = (
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
)
KEYS = ["k", "a b", "a+b", "100%", "a%2Fb", "é/ü/日本", "~user/x", "a/../b//c/", "$&'()*,;=:@!"]


@dataclass(frozen=True)
class Wire:
    method: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name)

    def param(self, name: str) -> str:
        return next(p.partition("=")[2] for p in self.query.split("&") if p.startswith(name + "="))

    def with_header(self, name: str, value: str | None) -> Wire:
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return replace(self, headers=kept if value is None else (*kept, (name, value)))

    def with_param(self, name: str, value: str | None) -> Wire:
        parts = [p for p in self.query.split("&") if p.partition("=")[0] != name]
        return replace(self, query="&".join(parts + ([] if value is None else [f"{name}={value}"])))

    @property
    def date(self) -> datetime:
        return parsedate_to_datetime(self.header("date"))

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(int(self.param("Expires")), UTC)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def to_wire(request: Any) -> Wire:
    parts = urlsplit(request.url)
    headers = [(name, _text(value)) for name, value in request.headers.items()]
    return Wire(request.method, parts.path, parts.query, (("Host", parts.netloc), *headers))


def check_header(wire: Wire, now: datetime | None = None, **kwargs: Any) -> VerifiedSigV2:
    lookup = kwargs.pop("lookup", SECRETS.get)
    return verify_sigv2_header(
        wire.method, wire.raw_path, wire.query, wire.headers, lookup, now or wire.date, **kwargs
    )


def check_query(wire: Wire, now: datetime | None = None, **kwargs: Any) -> VerifiedSigV2:
    lookup = kwargs.pop("lookup", SECRETS.get)
    now = now or wire.expires - timedelta(seconds=1)
    return verify_sigv2_query(
        wire.method, wire.raw_path, wire.query, wire.headers, lookup, now, **kwargs
    )


def expect_error(code: S3ErrorCode, call: Callable[[], object]) -> S3Error:
    with pytest.raises(S3Error) as info:
        call()
    assert info.value.code is code, info.value
    assert SK not in info.value.message
    return info.value


def _client(signature_version: str, style: str = "path", endpoint: str = ENDPOINT) -> Any:
    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(signature_version=signature_version, s3={"addressing_style": style}),
    )


class Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _stop(request: Any, **_: Any) -> None:
    raise Captured(request)


@pytest.fixture(scope="module")
def capture() -> Iterator[Callable[[Callable[[Any], object]], Wire]]:
    """A real botocore client signing with HmacV1Auth; requests captured, never sent."""
    clients = {"path": _client("s3"), "virtual": _client("s3", "virtual", "http://s3.example.com")}
    for client in clients.values():
        client.meta.events.register("before-send.s3", _stop)

    def run(call: Callable[[Any], object], style: str = "path") -> Wire:
        with pytest.raises(Captured) as info:
            call(clients[style])
        return to_wire(info.value.request)

    yield run
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    client = boto3.client(  # the default: SigV2 query auth for presigned URLs
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=AK, aws_secret_access_key=SK
    )
    yield client
    client.close()


def presigned(
    s3: Any,
    operation: str = "get_object",
    method: str = "GET",
    expires_in: int = 600,
    **params: Any,
) -> Wire:
    params.setdefault("Bucket", "bkt")
    url = s3.generate_presigned_url(operation, Params=params, ExpiresIn=expires_in)
    parts = urlsplit(url)
    return Wire(method, parts.path, parts.query, (("Host", parts.netloc),))


# ---------------------------------------------------------------- canonicalisation


def test_canonical_amz_headers_match_botocore() -> None:
    pairs = [
        ("X-Amz-Meta-B", " two  spaces "),
        ("x-amz-meta-a", "1"),
        ("x-amz-meta-b", "again"),
        ("Content-Type", "text/plain"),
        ("X-AMZ-DATE", "Tue, 27 Mar 2007 21:20:26 +0000"),
    ]
    headers = HTTPHeaders()
    for name, value in pairs:
        headers[name] = value
    expected = HmacV1Auth(None).canonical_custom_headers(headers) + "\n"
    assert canonical_amz_headers(pairs) == expected
    assert expected == (
        "x-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\nx-amz-meta-a:1\n"
        "x-amz-meta-b:two  spaces,again\n"
    )
    assert canonical_amz_headers([("Content-MD5", "x")]) == ""


@pytest.mark.parametrize(
    "query",
    [
        "",
        "uploads",
        "partNumber=3&uploadId=2~a%2Fb%2B",
        "uploadId=x&partNumber=1",
        "response-content-type=text%2Fplain%3B%20charset%3Dutf-8&response-expires=x",
        "prefix=a&delimiter=%2F&max-keys=10",
        "versionId=v%20%2B1&acl",
        "delete",
        "list-type=2&encoding-type=url&x-id=ListObjectsV2",
        "response-content-disposition=%C3%A9",
        "tagging&versionId=1",
    ],
)
def test_canonical_resource_matches_botocore(query: str) -> None:
    split = urlsplit(f"{ENDPOINT}/bkt/a%20b?{query}")
    expected = HmacV1Auth(None).canonical_resource(split)
    assert canonical_resource("/bkt/a%20b", query_pairs(query)) == expected


def test_every_sub_resource_botocore_signs_is_signed() -> None:
    assert set(HmacV1Auth.QSAOfInterest) <= SIGNED_SUBRESOURCES


def test_encoded_sub_resource_names_are_still_signed() -> None:
    """``version%49d`` is ``versionId`` to the handler, so it must be in the resource too."""
    assert canonical_resource("/b/k", query_pairs("version%49d=1")) == "/b/k?versionId=1"


def test_empty_sub_resource_values_render_bare() -> None:
    """rclone sends ``?uploads=``: AWS, Ceph, MinIO and rclone's signer render ``uploads``."""
    assert canonical_resource("/b/k", query_pairs("uploads=")) == "/b/k?uploads"
    assert canonical_resource("/b/k", query_pairs("acl=&versionId=")) == "/b/k?acl&versionId"


# ---------------------------------------------------------------- header form (HmacV1Auth)

HEADER_CALLS: list[Callable[[Any], object]] = [
    lambda c: c.list_objects(Bucket="bkt", Prefix="a b/", Delimiter="/"),
    lambda c: c.list_buckets(),
    lambda c: c.create_bucket(Bucket="bkt"),
    lambda c: c.get_bucket_location(Bucket="bkt"),
    lambda c: c.put_object(
        Bucket="bkt",
        Key="a b/é+%",
        Body=b"x",
        Metadata={"Mixed": " x  y ", "b": "2"},
        ContentType="text/plain",
        ContentMD5="eVyB2B1ZIs7mmVHzNpjn0w==",
    ),
    lambda c: c.get_object(Bucket="bkt", Key="k", ResponseContentType="text/plain; a=b"),
    lambda c: c.create_multipart_upload(Bucket="bkt", Key="k"),
    lambda c: c.upload_part(Bucket="bkt", Key="k", UploadId="2~u/+=x", PartNumber=2, Body=b"p"),
    lambda c: c.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "a"}]}),
    lambda c: c.put_object_acl(Bucket="bkt", Key="k", ACL="private"),
    lambda c: c.copy_object(Bucket="bkt", Key="k2", CopySource={"Bucket": "bkt", "Key": "a b"}),
    lambda c: c.get_object_tagging(Bucket="bkt", Key="k", VersionId="v1"),
]


@pytest.mark.parametrize("call", HEADER_CALLS)
def test_botocore_header_requests_verify(capture: Any, call: Callable[[Any], object]) -> None:
    wire = capture(call)
    assert wire.header("authorization").startswith(f"AWS {AK}:")
    assert check_header(wire) == VerifiedSigV2(AK, UNSIGNED_PAYLOAD)


@pytest.mark.parametrize("key", KEYS)
def test_botocore_keys_verify(capture: Any, key: str) -> None:
    check_header(capture(lambda c: c.get_object(Bucket="bkt", Key=key)))


def test_virtual_hosted_requests_sign_the_bucket(capture: Any) -> None:
    for call in (lambda c: c.get_object(Bucket="bkt", Key="a b"), HEADER_CALLS[0]):
        wire = capture(call, "virtual")
        assert wire.headers[0][1].startswith("bkt.")
        assert not wire.raw_path.startswith("/bkt")
        check_header(wire, virtual_host_bucket="bkt")
        expect_error(S3ErrorCode.SignatureDoesNotMatch, functools.partial(check_header, wire))


def _other_signature(authorization: str) -> str:
    """The same header with a different (still well-formed) signature: its last digit before
    the padding changed (one value in 16 already ends with "A=", so it must be chosen)."""
    replacement = "E=" if authorization.endswith("A=") else "A="
    return authorization[:-2] + replacement


@pytest.mark.parametrize(
    "tamper",
    [
        lambda w: w.with_header("x-amz-meta-mixed", "other"),
        lambda w: w.with_header("x-amz-meta-new", "1"),
        lambda w: w.with_header("Content-Type", "text/html"),
        lambda w: w.with_header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="),
        lambda w: replace(w, raw_path=w.raw_path + "x"),
        lambda w: replace(w, method="POST"),
        lambda w: replace(w, query="acl"),
        lambda w: w.with_header("Authorization", _other_signature(w.header("authorization"))),
    ],
)
def test_tampered_header_requests(capture: Any, tamper: Callable[[Wire], Wire]) -> None:
    wire = capture(HEADER_CALLS[4])
    check_header(wire)
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_header(tamper(wire)))


def test_unsigned_query_parameters_are_not_part_of_v2(capture: Any) -> None:
    wire = capture(HEADER_CALLS[0])
    check_header(replace(wire, query=wire.query + "&max-keys=1"))


def s3cmd_signed(method: str, path: str, headers: dict[str, str], params: str = "") -> Wire:
    """s3cmd 2.4's sign_request_v2: x-amz-date (RFC 1123), an empty Date slot."""
    to_sign = f"{method}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}\n\n"
    to_sign += "".join(f"{k}:{headers[k]}\n" for k in sorted(headers) if k.startswith("x-amz-"))
    to_sign += quote(path, safe="~/") + (f"?{params}" if params else "")
    digest = hmac.new(SK.encode(), to_sign.encode(), hashlib.sha1).digest()
    authorization = f"AWS {AK}:{base64.b64encode(digest).decode()}"
    pairs = (("Host", "127.0.0.1:9000"), *headers.items(), ("Authorization", authorization))
    return Wire(method, quote(path, safe="~/"), params, pairs)


NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
S3CMD_DATE = "Sun, 01 Mar 2026 12:00:00 +0000"


def test_s3cmd_x_amz_date_requests_verify() -> None:
    headers = {"x-amz-date": S3CMD_DATE, "x-amz-meta-s3cmd-attrs": "mode:33188/uid:0"}
    check_header(s3cmd_signed("PUT", "/bkt/a b/é", headers), NOW)
    check_header(s3cmd_signed("POST", "/bkt/k", headers, "uploads"), NOW)
    check_header(s3cmd_signed("PUT", "/bkt/k", headers, "partNumber=1&uploadId=xyz"), NOW)
    check_header(s3cmd_signed("GET", "/bkt/", {"x-amz-date": S3CMD_DATE}, "location"), NOW)
    iso = {"x-amz-date": "20260301T120500Z"}
    check_header(s3cmd_signed("GET", "/bkt/k", iso), NOW)
    # With x-amz-date the Date slot is empty: a Date header sent but not signed changes nothing.
    wire = s3cmd_signed("GET", "/bkt/k", iso).with_header("Date", "Mon, 02 Mar 2026 00:00:00 GMT")
    check_header(wire, NOW)


def test_botocore_with_both_date_and_x_amz_date() -> None:
    """HmacV1Auth puts Date's value in the Date slot even when x-amz-date is signed too."""
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/bkt/k")
    request.headers["x-amz-date"] = format_datetime(NOW, usegmt=True)
    HmacV1Auth(Credentials(AK, SK)).add_auth(request)
    wire = to_wire(request)
    assert wire.date != NOW  # botocore's Date is the real clock; x-amz-date sets the time
    check_header(wire, NOW)
    padded = wire.with_header("x-amz-date", f"  {format_datetime(NOW, usegmt=True)} ")
    check_header(padded, NOW)  # values are trimmed, as botocore trims them
    other = wire.with_header("x-amz-date", "Sun, 01 Mar 2026 12:00:01 GMT")
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_header(other, NOW))


@pytest.mark.parametrize(
    "authorization",
    ["AWS", f"AWS {AK}", f"AWS {AK}:", "AWS :c2ln", f"AWS {AK}:a:b", f"AWS4 {AK}:c2ln", "AWS  "],
)
def test_malformed_authorization(capture: Any, authorization: str) -> None:
    wire = capture(HEADER_CALLS[1]).with_header("Authorization", authorization)
    error = expect_error(S3ErrorCode.InvalidArgument, lambda: check_header(wire))
    assert error.message == INVALID_HEADER


def test_date_is_required_and_checked(capture: Any) -> None:
    wire = capture(HEADER_CALLS[1])
    undated = wire.with_header("Date", None)
    for broken in (
        undated,
        wire.with_header("Date", "yesterday"),
        wire.with_header("Date", "Mon, 01 Jan 99999 00:00:00 GMT"),
        undated.with_header("x-amz-date", "Mon, 41 Jan 2026 00:00:00 GMT"),
    ):
        error = expect_error(S3ErrorCode.AccessDenied, functools.partial(check_header, broken, NOW))
        assert error.message == "AWS authentication requires a valid Date or x-amz-date header"
    bad_amz = wire.with_header("x-amz-date", "soon")
    expect_error(S3ErrorCode.AccessDenied, lambda: check_header(bad_amz, wire.date))


def test_skew(capture: Any) -> None:
    wire = capture(HEADER_CALLS[1])
    check_header(wire, wire.date + timedelta(seconds=900))
    check_header(wire, (wire.date - timedelta(seconds=900)).replace(tzinfo=None))
    for delta in (901, -901):
        error = expect_error(
            S3ErrorCode.RequestTimeTooSkewed,
            functools.partial(check_header, wire, wire.date + timedelta(seconds=delta)),
        )
        assert error.fields["MaxAllowedSkewMilliseconds"] == "900000"
    check_header(wire, wire.date + timedelta(seconds=3000), max_skew=3600)


def test_header_wrong_secret_and_unknown_key(capture: Any) -> None:
    wire = capture(HEADER_CALLS[1])
    expect_error(
        S3ErrorCode.SignatureDoesNotMatch, lambda: check_header(wire, lookup={AK: "x"}.get)
    )
    expect_error(
        S3ErrorCode.InvalidAccessKeyId, lambda: check_header(wire, lookup=dict[str, str]().get)
    )


# ---------------------------------------------------------------- query form (HmacV1QueryAuth)


@pytest.mark.parametrize("key", KEYS)
def test_presigned_keys_verify(s3: Any, key: str) -> None:
    wire = presigned(s3, Key=key)
    assert check_query(wire) == VerifiedSigV2(AK, UNSIGNED_PAYLOAD)


@pytest.mark.parametrize(
    ("operation", "method", "params"),
    [
        ("get_object", "GET", {"Key": "k", "ResponseContentType": "text/plain; charset=utf-8"}),
        (
            "get_object",
            "GET",
            {"Key": "k", "ResponseContentDisposition": 'attachment; filename="é b.txt"'},
        ),
        ("upload_part", "PUT", {"Key": "k", "UploadId": "2~u/+=x y", "PartNumber": 7}),
        ("create_multipart_upload", "POST", {"Key": "k"}),
        ("list_objects", "GET", {}),
        ("get_object_acl", "GET", {"Key": "k", "VersionId": "3/4+5"}),
    ],
)
def test_presigned_operations_verify(
    s3: Any, operation: str, method: str, params: dict[str, Any]
) -> None:
    check_query(presigned(s3, operation, method, **params))


def test_presigned_put_with_metadata_and_content_type(s3: Any) -> None:
    """botocore moves x-amz-* into the query (signed there); Content-Type must be sent."""
    wire = presigned(
        s3, "put_object", "PUT", Key="k", Metadata={"Foo": "Bar"}, ContentType="text/x"
    )
    assert "x-amz-meta-foo=Bar" in wire.query
    sent = wire.with_header("Content-Type", "text/x")
    check_query(sent)
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_query(wire))
    tampered = sent.with_param("x-amz-meta-foo", "Baz")
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_query(tampered))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda w: w.with_param("response-content-type", "text%2Fhtml"),
        lambda w: w.with_param("versionId", "v1"),
        lambda w: w.with_param("x-amz-meta-a", "1"),
        lambda w: w.with_header("x-amz-meta-a", "1"),  # every x-amz-* header is in V2's string
        lambda w: w.with_param("Expires", str(int(w.param("Expires")) + 1)),
        lambda w: w.with_param("Signature", "AAAA" + w.param("Signature")[4:]),
        lambda w: w.with_param("Signature", "%C3%BC"),
        lambda w: replace(w, raw_path=w.raw_path.replace("k", "K")),
        lambda w: replace(w, method="DELETE"),
    ],
)
def test_tampered_presigned_urls(s3: Any, tamper: Callable[[Wire], Wire]) -> None:
    wire = presigned(s3, Key="k", ResponseContentType="text/plain")
    check_query(wire)
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_query(tamper(wire)))


def test_signature_plus_sign_encodings(s3: Any) -> None:
    """%2B (botocore), a literal + (a client that did not encode) and a space all mean +."""
    wires = [presigned(s3, Key=f"k{i}") for i in range(40)]
    wire = next(w for w in wires if "%2B" in w.param("Signature"))
    check_query(wire)
    check_query(wire.with_param("Signature", wire.param("Signature").replace("%2B", "+")))
    check_query(wire.with_param("Signature", wire.param("Signature").replace("%2B", "%20")))


def test_expiry(s3: Any) -> None:
    wire = presigned(s3, Key="k")
    check_query(wire, wire.expires)
    error = expect_error(
        S3ErrorCode.AccessDenied, lambda: check_query(wire, wire.expires + timedelta(seconds=1))
    )
    assert error.message == "Request has expired"
    assert error.fields["Expires"] == wire.expires.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("value", ["soon", "-1", "1.5", "١٢"])
def test_expires_must_be_epoch_seconds(s3: Any, value: str) -> None:
    wire = presigned(s3, Key="k").with_param("Expires", value)
    expect_error(S3ErrorCode.AccessDenied, lambda: check_query(wire, NOW))


def test_far_future_expires_is_refused(s3: Any) -> None:
    wire = presigned(s3, Key="k").with_param("Expires", "9" * 5000)
    error = expect_error(S3ErrorCode.AccessDenied, lambda: check_query(wire, NOW))
    assert "7 days" in error.message


def test_seven_days_is_the_longest_validity(s3: Any) -> None:
    """As SigV4's X-Amz-Expires: a URL signed for 604800 s works, with 15 minutes of presigner
    clock skew allowed."""
    week = timedelta(seconds=604800)
    wire = presigned(s3, Key="k", expires_in=604800)
    signed_at = wire.expires - week
    assert check_query(wire, signed_at) == VerifiedSigV2(AK, UNSIGNED_PAYLOAD)
    later = signed_at - timedelta(minutes=14)
    assert check_query(wire, later) == VerifiedSigV2(AK, UNSIGNED_PAYLOAD)


@pytest.mark.parametrize("expires_in", [604800 + 3600, 10 * 365 * 86400])
def test_longer_validity_is_refused(s3: Any, expires_in: int) -> None:
    """Correctly signed, a ten-year URL included: refused before the signature is checked."""
    longer = presigned(s3, Key="k", expires_in=expires_in)
    now = longer.expires - timedelta(seconds=expires_in)
    error = expect_error(S3ErrorCode.AccessDenied, lambda: check_query(longer, now))
    assert error.message == "Request expiry is more than 7 days (604800 seconds) ahead"


@pytest.mark.parametrize("param", ["AWSAccessKeyId", "Signature", "Expires"])
@pytest.mark.parametrize("value", [None, ""])
def test_missing_query_parameters(s3: Any, param: str, value: str | None) -> None:
    wire = presigned(s3, Key="k")
    broken = wire.with_param(param, value)
    error = expect_error(S3ErrorCode.AccessDenied, lambda: check_query(broken, wire.expires))
    assert error.message == QUERY_MISSING


def test_query_wrong_secret_and_unknown_key(s3: Any) -> None:
    wire = presigned(s3, Key="k")
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_query(wire, lookup={AK: "x"}.get))
    expect_error(
        S3ErrorCode.InvalidAccessKeyId, lambda: check_query(wire, lookup=dict[str, str]().get)
    )
    other = wire.with_param("AWSAccessKeyId", "AKOTHER")
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_query(other))


def test_virtual_hosted_presigned_url() -> None:
    client = _client("s3", "virtual", "http://s3.example.com")
    url = client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a b"})
    parts = urlsplit(url)
    assert parts.netloc == "bkt.s3.example.com"
    wire = Wire("GET", parts.path, parts.query, (("Host", parts.netloc),))
    check_query(wire, virtual_host_bucket="bkt")
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: check_query(wire))
