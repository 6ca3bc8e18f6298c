"""SigV4 for S3 (s3proxy.auth.sigv4 and .canonical), with botocore as the oracle.

Requests are signed by botocore (``S3SigV4Auth`` on an ``AWSRequest``, or a real botocore S3
client stopped at ``before-send``) and verified by ours; the proxy's own upstream signer must
produce exactly botocore's Authorization header. Pure: no network, no clock but the request's.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.auth.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    AuthorizationHeader,
    Credential,
    VerifiedSigV4,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    parse_authorization,
    sign,
    sign_request_headers,
    signing_key,
    string_to_sign,
    verify_header_auth,
)
from s3proxy.errors import S3Error, S3ErrorCode

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OTHER_AK, OTHER_SK = "AKOTHER", "other+secret/with=odd chars"
SECRETS = {AK: SK, OTHER_AK: OTHER_SK}
ENDPOINT = "http://127.0.0.1:9000"
VHOST = "http://bkt.s3.example.com"
ALL_HEX = "0123456789abcdef" * 4


@dataclass(frozen=True)
class Wire:
    """A request as the proxy sees it: raw path and query, header pairs as sent."""

    method: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name)

    def with_header(self, name: str, value: str | None) -> Wire:
        """Replace (or with None remove) every header called ``name``; add it if absent."""
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return replace(self, headers=kept if value is None else (*kept, (name, value)))

    @property
    def time(self) -> datetime:
        return datetime.strptime(self.header("x-amz-date"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def to_wire(request: Any) -> Wire:
    """What goes on the wire for a botocore request; Host comes from the URL as urllib3 does."""
    parts = urlsplit(request.url)
    headers = [(name, _text(value)) for name, value in request.headers.items()]
    if not any(name.lower() == "host" for name, _ in headers):
        headers.append(("Host", parts.netloc))
    return Wire(request.method, parts.path, parts.query, tuple(headers))


def botocore_signed(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    region: str = "us-east-1",
    unsigned: bool = False,
    access_key: str = AK,
    secret: str = SK,
    signer: type[SigV4Auth] = S3SigV4Auth,
) -> Wire:
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders: assigning twice keeps both (a repeat)
    if unsigned:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer(Credentials(access_key, secret), "s3", region).add_auth(request)
    return to_wire(request)


def verify(
    wire: Wire,
    now: datetime | None = None,
    lookup: Callable[[str], str | None] = SECRETS.get,
    **kwargs: Any,
) -> VerifiedSigV4:
    return verify_header_auth(
        wire.method,
        wire.raw_path,
        wire.query,
        wire.headers,
        lookup,
        wire.time if now is None else now,
        **kwargs,
    )


def expect_error(code: S3ErrorCode, call: Callable[[], object]) -> S3Error:
    with pytest.raises(S3Error) as info:
        call()
    error = info.value
    assert error.code is code, error
    for secret in SECRETS.values():  # never leak a secret into what the client sees
        assert secret not in error.message
        assert all(secret not in value for value in error.fields.values())
    return error


def key_url(key: str, *, virtual: bool = False) -> str:
    """The URL botocore's REST serializer builds for a key (greedy label, safe "/~")."""
    encoded = percent_encode(key, safe="/~")
    return f"{VHOST}/{encoded}" if virtual else f"{ENDPOINT}/bkt/{encoded}"


def query_of(pairs: Sequence[tuple[str, str | None]]) -> str:
    return "&".join(
        percent_encode(name) if value is None else f"{percent_encode(name)}={percent_encode(value)}"
        for name, value in pairs
    )


# ---------------------------------------------------------------- canonicalisation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/bkt/a%20b", "/bkt/a%20b"),
        ("/bkt/a b", "/bkt/a%20b"),
        ("/bkt/a+b", "/bkt/a%20b"),  # a bare "+" in the path is a space, as S3 reads it
        ("/bkt/a%2Fb", "/bkt/a/b"),  # a decoded "/" is a "/": S3 serves key "a/b" for both
        ("/bkt/a%2fb", "/bkt/a/b"),
        ("/bkt/a%252Fb", "/bkt/a%252Fb"),
        ("/bkt/%7Euser/~x", "/bkt/~user/~x"),
        ("/bkt/%41%2d%5F", "/bkt/A-_"),
        ("/bkt/a/../b/./c//d/", "/bkt/a/../b/./c//d/"),
        ("//bkt//", "//bkt//"),
        ("/bkt/caf%C3%A9", "/bkt/caf%C3%A9"),
        ("/bkt/café", "/bkt/caf%C3%A9"),
        ("/bkt/$&'()*,;=:@!", "/bkt/%24%26%27%28%29%2A%2C%3B%3D%3A%40%21"),
        ("/bkt/100%", "/bkt/100%25"),
    ],
)
def test_canonical_uri(raw: str, expected: str) -> None:
    assert canonical_uri(raw) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("uploads", "uploads="),
        ("uploads=", "uploads="),
        ("a=2&a=1&a=", "a=&a=1&a=2"),
        ("prefix=a+b", "prefix=a%20b"),  # form decoding: a bare "+" is a space (S3)
        ("prefix=a%2Bb", "prefix=a%2Bb"),
        ("prefix=a%20b", "prefix=a%20b"),
        ("delimiter=/", "delimiter=%2F"),
        ("delimiter=%2f", "delimiter=%2F"),
        ("x=%7e&y=~", "x=~&y=~"),
        ("a=b=c", "a=b%3Dc"),
        ("B=1&a=1&_=1", "B=1&_=1&a=1"),
        ("&&a=1&", "a=1"),
        ("prefix=%C3%A9&prefix=é", "prefix=%C3%A9&prefix=%C3%A9"),
    ],
)
def test_canonical_query(query: str, expected: str) -> None:
    assert canonical_query(query) == expected


def test_canonical_query_excludes_one_parameter() -> None:
    query = "X-Amz-Signature=abc&X-Amz-Date=20260101T000000Z&x-id=GetObject"
    assert canonical_query(query, exclude="X-Amz-Signature") == (
        "X-Amz-Date=20260101T000000Z&x-id=GetObject"
    )


def test_canonical_headers_trim_collapse_join_and_order() -> None:
    headers = [
        ("Host", "h:1"),
        ("X-Amz-Meta-A", "  a \t  b  "),
        ("Range", "bytes=0-1"),
        ("x-amz-meta-a", "c"),
        ("Content-Type", "text/plain"),
    ]
    signed = ["content-type", "host", "x-amz-meta-a"]
    assert canonical_headers(headers, signed) == (
        "content-type:text/plain\nhost:h:1\nx-amz-meta-a:a b,c\n"
    )


# AWS's worked examples in sig-v4-header-based-auth.html (examplebucket, 2013-05-24).
DOC_AK, DOC_SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_NOW = datetime(2013, 5, 24, tzinfo=UTC)
DOC_HOST = ("Host", "examplebucket.s3.amazonaws.com")
DOC_DATE = ("x-amz-date", "20130524T000000Z")


def doc_auth(signed: str, signature: str) -> tuple[str, str]:
    credential = f"{DOC_AK}/20130524/us-east-1/s3/aws4_request"
    return (
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={credential},SignedHeaders={signed},Signature={signature}",
    )


def test_aws_documented_get_object_example() -> None:
    headers = [
        DOC_HOST,
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        DOC_DATE,
    ]
    signed = ["host", "range", "x-amz-content-sha256", "x-amz-date"]
    canonical = canonical_request("GET", "/test.txt", "", headers, signed, EMPTY_SHA256)
    assert canonical == (
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        f"x-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:20130524T000000Z\n\n"
        f"host;range;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}"
    )
    to_sign = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", canonical)
    assert to_sign.endswith("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
    signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert sign(signing_key(DOC_SK, "20130524", "us-east-1"), to_sign) == signature
    headers.append(doc_auth(";".join(signed), signature))
    verified = verify_header_auth("GET", "/test.txt", "", headers, {DOC_AK: DOC_SK}.get, DOC_NOW)
    assert verified.signature == signature


@pytest.mark.parametrize(
    ("method", "path", "query", "extra", "payload", "signature"),
    [
        pytest.param(
            "PUT",
            "/test$file.text",
            "",
            [
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            hashlib.sha256(b"Welcome to Amazon S3.").hexdigest(),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            id="put-object",
        ),
        pytest.param(
            "GET",
            "/",
            "lifecycle",
            [],
            EMPTY_SHA256,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
            id="get-lifecycle",
        ),
        pytest.param(
            "GET",
            "/",
            "max-keys=2&prefix=J",
            [],
            EMPTY_SHA256,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
            id="list-objects",
        ),
    ],
)
def test_aws_documented_examples(
    method: str,
    path: str,
    query: str,
    extra: list[tuple[str, str]],
    payload: str,
    signature: str,
) -> None:
    headers = [DOC_HOST, ("x-amz-content-sha256", payload), DOC_DATE, *extra]
    signed = ";".join(sorted(name.lower() for name, _ in headers))
    headers.append(doc_auth(signed, signature))
    verified = verify_header_auth(method, path, query, headers, {DOC_AK: DOC_SK}.get, DOC_NOW)
    assert verified.payload_hash == payload


# ---------------------------------------------------------------- botocore-signed requests

KEYS = [
    "plain.txt",
    "dir/sub/file",
    "with space",
    "a+b",
    "100%",
    "a%2Fb",
    "a%20b",
    "café",  # NFC
    "cafe\u0301",  # NFD: a different key, different bytes
    "a//b",
    "//x",
    "a/../b",
    "../up",
    "./x",
    "x/./y",
    "dir/",
    "~user/~x",
    "$&'()*,;=:@!",
    "tab\there\x01",
    "emoji-😀",
    "日本語/キー",
    "q?x=1#frag",
]


@pytest.mark.parametrize("key", KEYS)
def test_botocore_signed_keys_verify(key: str) -> None:
    for virtual in (False, True):  # path-style and virtual-hosted-style
        wire = botocore_signed("GET", key_url(key, virtual=virtual))
        verified = verify(wire)
        assert verified.access_key == AK
        assert verified.payload_hash == EMPTY_SHA256
        assert canonical_uri(wire.raw_path) == wire.raw_path  # botocore encodes canonically


def test_nfc_and_nfd_keys_sign_differently() -> None:
    nfc = botocore_signed("GET", key_url("café"))
    nfd = botocore_signed("GET", key_url("cafe\u0301"))
    assert nfc.raw_path != nfd.raw_path
    swapped = replace(nfc, raw_path=nfd.raw_path)
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(swapped))


@pytest.mark.parametrize(
    "pairs",
    [
        [("list-type", "2"), ("prefix", "a b+c/é"), ("delimiter", "/"), ("encoding-type", "url")],
        [("uploads", None)],
        [("uploads", "")],
        [("partNumber", "3"), ("uploadId", "abc/DEF+ghi==")],
        [("a", "2"), ("a", "1"), ("a", ""), ("a", None), ("b", "~!*'()")],
        [("delimiter", ""), ("max-keys", "1000"), ("prefix", "")],
        [("x-id", "PutObject"), ("Z", "upper"), ("z", "lower"), ("_", "under")],
        [("versionId", "null"), ("response-content-disposition", 'attachment; filename="a b"')],
    ],
)
def test_botocore_signed_queries_verify(pairs: list[tuple[str, str | None]]) -> None:
    wire = botocore_signed("GET", f"{key_url('k')}?{query_of(pairs)}")
    verify(wire)
    verify(botocore_signed("GET", f"{VHOST}/?{query_of(pairs)}"))


def test_bucket_urls_with_and_without_trailing_slash() -> None:
    for url in (f"{ENDPOINT}/bkt", f"{ENDPOINT}/bkt/", f"{ENDPOINT}/", f"{VHOST}/"):
        verify(botocore_signed("PUT", url))


@pytest.mark.parametrize("virtual", [False, True], ids=["path-style", "virtual-host"])
def test_literal_payload_hash(virtual: bool) -> None:
    body = b"hello world"
    wire = botocore_signed("PUT", key_url("a b", virtual=virtual), body=body)
    assert verify(wire).payload_hash == hashlib.sha256(body).hexdigest()


def test_unsigned_payload() -> None:
    wire = botocore_signed("PUT", key_url("x"), body=b"data", unsigned=True)
    assert wire.header("x-amz-content-sha256") == UNSIGNED_PAYLOAD
    assert verify(wire).payload_hash == UNSIGNED_PAYLOAD


def test_signed_headers_with_repeats_spaces_and_mixed_case() -> None:
    headers = [
        ("Content-Type", "text/plain;  charset=utf-8"),
        ("X-Amz-Meta-Color", "  dark   blue "),
        ("X-Amz-Meta-Tag", "one"),
        ("X-Amz-Meta-Tag", "two"),
        ("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="),
        ("If-None-Match", "*"),
    ]
    wire = botocore_signed("PUT", key_url("obj"), headers, body=b"hello", unsigned=True)
    assert [v for k, v in wire.headers if k == "X-Amz-Meta-Tag"] == ["one", "two"]
    verify(wire)


def test_verified_result() -> None:
    wire = botocore_signed("GET", key_url("k"), region="eu-west-1")
    verified = verify(wire)
    date = wire.header("x-amz-date")
    assert verified.credential == Credential(AK, date[:8], "eu-west-1", "s3")
    assert verified.amz_date == date
    assert verified.signature == parse_authorization(wire.header("authorization")).signature
    key = ("AWS4" + SK).encode()
    for part in (date[:8], "eu-west-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert verified.signing_key == key


def test_signature_accepted_in_upper_case() -> None:
    wire = botocore_signed("GET", key_url("k"))
    auth = wire.header("authorization")
    head, _, signature = auth.rpartition("=")
    verify(wire.with_header("Authorization", f"{head}={signature.upper()}"))


@pytest.fixture(scope="module")
def captured_client() -> Iterator[Callable[[Callable[[Any], object]], Wire]]:
    """A real botocore S3 client whose requests are captured at before-send, never sent."""
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(s3={"addressing_style": "path"}),
    )

    class Captured(Exception):
        def __init__(self, request: Any) -> None:
            self.request = request

    def stop(request: Any, **_: Any) -> None:
        raise Captured(request)

    client.meta.events.register("before-send.s3", stop)

    def capture(call: Callable[[Any], object]) -> Wire:
        with pytest.raises(Captured) as info:
            call(client)
        return to_wire(info.value.request)

    yield capture
    client.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.put_object(
            Bucket="bkt",
            Key="a b/../c+d%2F//é",
            Body=b"hi",
            Metadata={"x": " a  b "},
            ContentType="text/plain",
        ),
        lambda c: c.list_objects_v2(
            Bucket="bkt", Prefix="a b+/é", Delimiter="/", EncodingType="url"
        ),
        lambda c: c.list_objects(Bucket="bkt", Prefix="", Delimiter="/", MaxKeys=1000),
        lambda c: c.create_multipart_upload(Bucket="bkt", Key="k", ChecksumAlgorithm="CRC32"),
        lambda c: c.upload_part(Bucket="bkt", Key="k", UploadId="u/+=", PartNumber=2, Body=b"x"),
        lambda c: c.get_object(Bucket="bkt", Key="~k", Range="bytes=0-1", IfMatch='"e"'),
        lambda c: c.copy_object(Bucket="bkt", Key="dst", CopySource={"Bucket": "b", "Key": "s p"}),
        lambda c: c.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "a"}]}),
    ],
    ids=["put", "list-v2", "list-v1", "create-mpu", "upload-part", "get", "copy", "delete-many"],
)
def test_real_botocore_client_requests_verify(
    captured_client: Callable[[Callable[[Any], object]], Wire], call: Callable[[Any], object]
) -> None:
    wire = captured_client(call)
    verified = verify(wire, region="us-east-1")
    assert verified.payload_hash == wire.header("x-amz-content-sha256")


@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_any_key_round_trips(key: str) -> None:
    wire = botocore_signed("PUT", key_url(key), body=b"x")
    verify(wire)
    assert canonical_uri(wire.raw_path) == wire.raw_path
    assert canonical_uri(canonical_uri(wire.raw_path)) == wire.raw_path


# ---------------------------------------------------------------- refusals


@pytest.fixture
def good() -> Wire:
    headers = [("Content-Type", "text/plain"), ("x-amz-meta-foo", "bar")]
    return botocore_signed("PUT", f"{key_url('dir/key')}?partNumber=1&uploadId=u", headers, b"hi")


def test_good_fixture_verifies(good: Wire) -> None:
    verify(good)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda w: w.with_header("x-amz-meta-foo", "baz"),
        lambda w: w.with_header("Content-Type", "text/html"),
        lambda w: w.with_header("Host", "127.0.0.1:9001"),
        lambda w: replace(w, raw_path="/bkt/dir/kez"),
        lambda w: replace(w, raw_path="/bkt/dir//key"),
        lambda w: replace(w, raw_path="/bkt/x/../dir/key"),
        lambda w: replace(w, raw_path="/bkt/dir%252Fkey"),
        lambda w: replace(w, query="partNumber=2&uploadId=u"),
        lambda w: replace(w, query="partNumber=1&uploadId=u&x=1"),
        lambda w: replace(w, query="partNumber=1"),
        lambda w: replace(w, method="POST"),
        lambda w: w.with_header("Content-Type", None),  # signed, but no longer sent
    ],
    ids=[
        "amz-header",
        "content-type",
        "host",
        "path",
        "path-double-slash",
        "path-dot-dot",
        "path-encoded-slash",
        "query-value",
        "query-added",
        "query-dropped",
        "method",
        "signed-header-missing",
    ],
)
def test_tampering_is_signature_does_not_match(good: Wire, tamper: Callable[[Wire], Wire]) -> None:
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(tamper(good)))


def test_wrong_secret(good: Wire) -> None:
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(good, lookup=lambda _: OTHER_SK))
    other = botocore_signed("GET", key_url("k"), secret="not-the-secret")
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(other))


@pytest.mark.parametrize("signature", ["z" * 64, "é" * 64, "ab", "0" * 65])
def test_garbage_signature_does_not_match(good: Wire, signature: str) -> None:
    auth = good.header("authorization")
    forged = good.with_header("Authorization", auth.rpartition("=")[0] + "=" + signature)
    expect_error(S3ErrorCode.SignatureDoesNotMatch, lambda: verify(forged))


def test_unsigned_amz_header_is_access_denied(good: Wire) -> None:
    added = good.with_header("X-Amz-Meta-Sneaky", "1")
    error = expect_error(S3ErrorCode.AccessDenied, lambda: verify(added))
    assert error.message == "There were headers present in the request which were not signed"
    assert error.fields == {"HeadersNotSigned": "x-amz-meta-sneaky"}
    # Unsigned non-amz headers (proxies add them; botocore leaves user-agent out) are fine.
    verify(good.with_header("User-Agent", "curl").with_header("X-Forwarded-For", "1.2.3.4"))


def test_unsigned_host_is_access_denied(good: Wire) -> None:
    auth = good.header("authorization").replace(
        "SignedHeaders=content-type;host;", "SignedHeaders=content-type;"
    )
    assert "host" not in parse_authorization(auth).signed_headers
    error = expect_error(
        S3ErrorCode.AccessDenied, lambda: verify(good.with_header("Authorization", auth))
    )
    assert error.fields == {"HeadersNotSigned": "host"}


@pytest.mark.parametrize("minutes", [16, -16, 60 * 24])
def test_skew_beyond_15_minutes(good: Wire, minutes: int) -> None:
    now = good.time + timedelta(minutes=minutes)
    error = expect_error(S3ErrorCode.RequestTimeTooSkewed, lambda: verify(good, now))
    assert error.status == 403
    assert error.fields["RequestTime"] == good.header("x-amz-date")


@pytest.mark.parametrize("seconds", [14 * 60, -14 * 60, 900, -900])
def test_skew_within_15_minutes(good: Wire, seconds: int) -> None:
    verify(good, good.time + timedelta(seconds=seconds))


def test_naive_and_non_utc_now(good: Wire) -> None:
    verify(good, good.time.replace(tzinfo=None))
    verify(good, good.time.astimezone(timezone(timedelta(hours=5, minutes=30))))


def test_max_skew_is_configurable(good: Wire) -> None:
    now = good.time + timedelta(seconds=61)
    expect_error(S3ErrorCode.RequestTimeTooSkewed, lambda: verify(good, now, max_skew=60))


def test_unknown_access_key() -> None:
    wire = botocore_signed("GET", key_url("k"), access_key="AKUNKNOWN")
    error = expect_error(S3ErrorCode.InvalidAccessKeyId, lambda: verify(wire))
    assert error.status == 403


CRED = f"Credential={AK}/20260101/us-east-1/s3/aws4_request"
SIGNED = "SignedHeaders=host;x-amz-content-sha256;x-amz-date"
SIG = f"Signature={ALL_HEX}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA512 " + ", ".join((CRED, SIGNED, SIG)),
        "aws4-hmac-sha256 " + ", ".join((CRED, SIGNED, SIG)),
        "AWS4-HMAC-SHA256 " + ", ".join((CRED, SIGNED)),
        "AWS4-HMAC-SHA256 " + ", ".join((CRED, SIG)),
        "AWS4-HMAC-SHA256 " + ", ".join((SIGNED, SIG)),
        "AWS4-HMAC-SHA256 " + ", ".join((CRED, SIGNED, SIG, SIG)),
        "AWS4-HMAC-SHA256 " + ", ".join((CRED, SIGNED, SIG, "Foo=bar")),
        "AWS4-HMAC-SHA256 " + ", ".join((CRED, SIGNED, "Signature=")),
        "AWS4-HMAC-SHA256 " + ", ".join((CRED, "SignedHeaders=host;;x-amz-date", SIG)),
        "AWS4-HMAC-SHA256 " + ", ".join((CRED, SIGNED, SIG)) + ",",
        "AWS4-HMAC-SHA256 " + "; ".join((CRED, SIGNED, SIG)),
        "AWS4-HMAC-SHA256 " + ", ".join(("Credential=", SIGNED, SIG)),
        "AWS4-HMAC-SHA256 " + ", ".join((f"Credential={AK}/20260101/us-east-1/s3", SIGNED, SIG)),
        "AWS4-HMAC-SHA256 "
        + ", ".join((f"Credential={AK}/20260101/us-east-1/ec2/aws4_request", SIGNED, SIG)),
        "AWS4-HMAC-SHA256 "
        + ", ".join((f"Credential={AK}/20260101/us-east-1/s3/aws4_reques", SIGNED, SIG)),
        "AWS4-HMAC-SHA256 "
        + ", ".join((f"Credential={AK}/20260101//s3/aws4_request", SIGNED, SIG)),
        "AWS4-HMAC-SHA256 "
        + ", ".join((f"Credential={AK}/x/20260101/us-east-1/s3/aws4_request", SIGNED, SIG)),
        "AWS key:signature",
    ],
)
def test_malformed_authorization(good: Wire, value: str) -> None:
    expect_error(S3ErrorCode.AuthorizationHeaderMalformed, lambda: parse_authorization(value))
    forged = good.with_header("Authorization", value)
    expect_error(S3ErrorCode.AuthorizationHeaderMalformed, lambda: verify(forged))


@pytest.mark.parametrize(
    "separator",
    [",", ", ", ",   ", " ,", " , ", ",\t"],
    ids=["none", "one", "many", "before", "both", "tab"],
)
def test_authorization_spacing_is_tolerated(good: Wire, separator: str) -> None:
    parsed = parse_authorization(good.header("authorization"))
    value = "AWS4-HMAC-SHA256  " + separator.join(
        (
            f"Credential={AK}/{parsed.credential.scope}",
            "SignedHeaders=" + ";".join(parsed.signed_headers),
            f"Signature={parsed.signature}",
        )
    )
    assert parse_authorization(value) == parsed
    verify(good.with_header("Authorization", value))


def test_parse_authorization() -> None:
    value = f"AWS4-HMAC-SHA256 {CRED}, {SIGNED}, {SIG}"
    assert parse_authorization(value) == AuthorizationHeader(
        Credential(AK, "20260101", "us-east-1", "s3"),
        ("host", "x-amz-content-sha256", "x-amz-date"),
        ALL_HEX,
    )
    assert parse_authorization(value).credential.scope == "20260101/us-east-1/s3/aws4_request"
    # Field order is free.
    assert parse_authorization(f"AWS4-HMAC-SHA256 {SIG},{CRED},{SIGNED}") == parse_authorization(
        value
    )


def test_missing_authorization_header(good: Wire) -> None:
    expect_error(
        S3ErrorCode.AuthorizationHeaderMalformed,
        lambda: verify(good.with_header("Authorization", None)),
    )


def test_credential_date_must_match_request_date(good: Wire) -> None:
    next_day = good.time + timedelta(days=1)
    moved = good.with_header("X-Amz-Date", next_day.strftime("%Y%m%dT%H%M%SZ"))
    error = expect_error(S3ErrorCode.AuthorizationHeaderMalformed, lambda: verify(moved, next_day))
    assert "date" in error.message


@pytest.mark.parametrize(
    "value",
    ["", "20260101T000000", "2026-01-01T00:00:00Z", "20261301T000000Z", "２0260101T000000Z"],
)
def test_invalid_or_missing_date(good: Wire, value: str) -> None:
    undated = good.with_header("X-Amz-Date", None)
    for wire in (
        good.with_header("X-Amz-Date", value),
        undated,
        undated.with_header("Date", value or "yesterday"),
    ):
        error = expect_error(S3ErrorCode.AccessDenied, functools.partial(verify, wire, good.time))
        assert error.message == "AWS authentication requires a valid Date or x-amz-date header"


def test_date_header_instead_of_x_amz_date() -> None:
    """botocore always sends x-amz-date; older clients sign the Date header instead."""
    request = AWSRequest(
        method="GET",
        url=key_url("k"),
        headers={"Date": "Thu, 01 Jan 2026 12:34:56 GMT", "X-Amz-Content-SHA256": EMPTY_SHA256},
    )
    signer = S3SigV4Auth(Credentials(AK, SK), "s3", "us-east-1")
    request.context["timestamp"] = "20260101T123456Z"  # what botocore's add_auth would set
    canonical = signer.canonical_request(request)
    assert "\ndate:Thu, 01 Jan 2026 12:34:56 GMT\n" in canonical
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)
    wire = to_wire(request)
    assert not any(name.lower() == "x-amz-date" for name, _ in wire.headers)
    verified = verify(wire, datetime(2026, 1, 1, 12, 40, tzinfo=UTC))
    assert verified.amz_date == "20260101T123456Z"
    expect_error(
        S3ErrorCode.RequestTimeTooSkewed,
        lambda: verify(wire, datetime(2026, 1, 1, 13, 0, tzinfo=UTC)),
    )


def test_missing_content_sha256_is_invalid_request() -> None:
    # The generic SigV4 signer does not add x-amz-content-sha256 (S3's does).
    wire = botocore_signed("GET", key_url("k"), signer=SigV4Auth)
    assert not any(name.lower() == "x-amz-content-sha256" for name, _ in wire.headers)
    error = expect_error(S3ErrorCode.InvalidRequest, lambda: verify(wire))
    assert error.message == "Missing required header for this request: x-amz-content-sha256"


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        ALL_HEX[:63],
        ALL_HEX + "0",
        "g" * 64,
        "unsigned-payload",
        "STREAMING-FOO",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD ",
        f"{EMPTY_SHA256},{EMPTY_SHA256}",
    ],
)
def test_bad_content_sha256_is_invalid_argument(value: str) -> None:
    headers = [("X-Amz-Content-SHA256", v) for v in value.split(",")]
    wire = botocore_signed("PUT", key_url("k"), headers, signer=SigV4Auth)
    error = expect_error(S3ErrorCode.InvalidArgument, lambda: verify(wire))
    assert error.message == (
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value."
    )


@pytest.mark.parametrize(
    "value",
    [
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
        UNSIGNED_PAYLOAD,
        ALL_HEX.upper(),
    ],
)
def test_accepted_content_sha256_values_are_kept_verbatim(value: str) -> None:
    wire = botocore_signed("PUT", key_url("k"), [("X-Amz-Content-SHA256", value)], signer=SigV4Auth)
    assert verify(wire).payload_hash == value


def test_strict_region() -> None:
    wire = botocore_signed("GET", key_url("k"), region="us-west-2")
    error = expect_error(
        S3ErrorCode.AuthorizationHeaderMalformed, lambda: verify(wire, region="us-east-1")
    )
    assert error.message == (
        "The authorization header is malformed; the region 'us-west-2' is wrong; "
        "expecting 'us-east-1'"
    )
    assert error.fields == {"Region": "us-east-1"}
    assert verify(wire, region="us-west-2").credential.region == "us-west-2"


def test_any_region_when_not_strict() -> None:
    wire = botocore_signed("GET", f"{ENDPOINT}/bkt/?location", region="US")  # what s3cmd does
    assert verify(wire).credential.region == "US"
    expect_error(S3ErrorCode.AuthorizationHeaderMalformed, lambda: verify(wire, region="us-east-1"))


# ---------------------------------------------------------------- signing upstream requests


@dataclass(frozen=True)
class Upstream:
    method: str
    host: str
    raw_path: str
    query: str
    headers: dict[str, str]
    region: str = "us-east-1"
    body: bytes | None = None  # None: UNSIGNED-PAYLOAD

    @property
    def payload_hash(self) -> str:
        return UNSIGNED_PAYLOAD if self.body is None else hashlib.sha256(self.body).hexdigest()


UPSTREAMS = [
    Upstream("GET", "127.0.0.1:8333", "/bkt", "list-type=2&prefix=ab%2F&delimiter=%2F", {}),
    Upstream(
        "PUT",
        "127.0.0.1:8333",
        "/bkt/" + percent_encode("odd key+/../é%2F//~", safe="/~"),
        "",
        {
            "Content-Type": "application/octet-stream",
            "Content-MD5": "XUFAKrxLKna5cZ2REBfFkg==",
            "x-amz-meta-s3proxy-key": "  spaced   value ",
            "X-Amz-Checksum-CRC32": "NhCmhg==",
        },
        body=b"hello",
    ),
    Upstream(
        "POST",
        "bkt.s3.eu-central-1.amazonaws.com",
        "/ab/cd/0123456789abcdef",
        "uploadId=u%2Bv%3D&partNumber=7",
        {"x-amz-copy-source": "/src/k%20ey", "x-amz-copy-source-if-match": '"etag"'},
        region="eu-central-1",
    ),
    Upstream("DELETE", "s3.example.com:443", "/bkt/k", "versionId=null", {}, body=b""),
    Upstream("HEAD", "[::1]:9000", "/bkt/dir/", "", {"X-Amz-Checksum-Mode": "ENABLED"}),
]


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: f"{u.method}-{u.host}")
def test_sign_request_headers_matches_botocore(upstream: Upstream) -> None:
    url = f"http://{upstream.host}{upstream.raw_path}"
    if upstream.query:
        url += "?" + upstream.query
    oracle = botocore_signed(
        upstream.method,
        url,
        [("Host", upstream.host), *upstream.headers.items()],
        upstream.body or b"",
        region=upstream.region,
        unsigned=upstream.body is None,
    )
    headers = {"Host": upstream.host, **upstream.headers}
    added = sign_request_headers(
        upstream.method,
        upstream.raw_path,
        upstream.query,
        headers,
        access_key=AK,
        secret_key=SK,
        region=upstream.region,
        payload_hash=upstream.payload_hash,
        now=oracle.time,
    )
    assert added == {
        "x-amz-date": oracle.header("x-amz-date"),
        "x-amz-content-sha256": oracle.header("x-amz-content-sha256"),
        "Authorization": oracle.header("authorization"),
    }
    # And our verifier accepts it, with unsigned extras a client library would add.
    sent = (*headers.items(), *added.items(), ("Content-Length", "5"), ("Range", "bytes=0-"))
    wire = Wire(upstream.method, upstream.raw_path, upstream.query, sent)
    verified = verify(wire, region=upstream.region)
    assert verified.payload_hash == upstream.payload_hash
    assert canonical_uri(upstream.raw_path) == upstream.raw_path


def sign_upstream(
    headers: dict[str, str], now: datetime, payload_hash: str = EMPTY_SHA256
) -> dict[str, str]:
    return sign_request_headers(
        "GET",
        "/bkt/k",
        "",
        headers,
        access_key=AK,
        secret_key=SK,
        region="us-east-1",
        payload_hash=payload_hash,
        now=now,
    )


def test_sign_request_headers_signs_only_what_it_must() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    headers = {
        "host": "h",
        "Range": "bytes=0-9",
        "If-Match": '"x"',
        "User-Agent": "s3proxy",
        "Content-Length": "0",
        "X-Amz-Meta-A": "1",
    }
    auth = parse_authorization(sign_upstream(headers, now)["Authorization"])
    assert auth.signed_headers == ("host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-a")
    assert auth.credential == Credential(AK, "20260101", "us-east-1", "s3")


def test_sign_request_headers_replaces_date_hash_and_authorization() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    plain = sign_upstream({"host": "h"}, now)
    stale = {"host": "h", "X-Amz-Date": "x", "X-Amz-Content-SHA256": "y", "Authorization": "z"}
    assert sign_upstream(stale, now) == plain


def test_sign_request_headers_time_zones() -> None:
    utc = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    expected = sign_upstream({"host": "h"}, utc)
    assert expected["x-amz-date"] == "20260304T050607Z"
    assert sign_upstream({"host": "h"}, utc.replace(tzinfo=None)) == expected
    assert sign_upstream({"host": "h"}, utc.astimezone(timezone(timedelta(hours=-8)))) == expected


def test_sign_request_headers_needs_host() -> None:
    with pytest.raises(ValueError, match="host"):
        sign_upstream({"x-amz-meta-a": "1"}, datetime(2026, 1, 1, tzinfo=UTC))


@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
@settings(max_examples=40, deadline=None)
def test_signed_upstream_paths_are_canonical(key: str) -> None:
    raw_path = "/bkt/" + percent_encode(key, safe="/~")
    assert canonical_uri(raw_path) == raw_path
    now = datetime(2026, 1, 1, tzinfo=UTC)
    added = sign_request_headers(
        "PUT",
        raw_path,
        "",
        {"host": "h"},
        access_key=AK,
        secret_key=SK,
        region="r",
        payload_hash=UNSIGNED_PAYLOAD,
        now=now,
    )
    verify(Wire("PUT", raw_path, "", (("host", "h"), *added.items())), now)
