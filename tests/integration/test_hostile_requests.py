"""Hostile input II: XML bodies, keys, bucket names, query parameters, ranges, conditionals and
metadata get S3's exact answer, and nothing is stored, changed or lost by a refused request.

Requests are signed by botocore and sent verbatim (tests/support/s3http.py), so nothing fixes
them up on the way. Every refusal is followed by a read that shows what was there is still there.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, send, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"
MiB = 1024 * 1024


def md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def call(
    proxy: Proxy,
    method: str,
    key: str | None = None,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    bucket: str = BUCKET,
    tenant: str = "alice",
) -> RawResponse:
    return signed(
        method, object_url(proxy.endpoint, bucket, key, query), *proxy.keys(tenant), headers, body
    )


def assert_error(response: RawResponse, status: int, code: str) -> None:
    """The exact S3 error, and nothing a client should not see in it."""
    assert (response.status, response.error_code) == (status, code), response.body[:300]
    assert b"Traceback" not in response.body


def unique(name: str) -> str:
    return f"hostile/{name}-{os.urandom(4).hex()}"


def list_keys(proxy: Proxy, prefix: str, *, encoded: bool) -> list[str]:
    """The keys a V2 listing shows under ``prefix`` (parsed as a client parses them)."""
    query = f"list-type=2&prefix={quote(prefix, safe='')}" + (
        "&encoding-type=url" if encoded else ""
    )
    response = call(proxy, "GET", None, query)
    assert response.status == 200
    root = ET.fromstring(response.body)
    keys = [element.text or "" for element in root.iter() if element.tag.endswith("}Key")]
    return [unquote(key) for key in keys] if encoded else keys


# --- XML bodies --------------------------------------------------------------------------------

HOSTILE_XML = {
    "unclosed": b"<Delete><Object><Key>k</Key></Object>",
    "billion-laughs": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<r>&c;</r>"
    ),
    "external-entity": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    ),
    "dtd": b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/r.dtd"><r/>',
    "deep": b"<r>" * 20000 + b"</r>" * 20000,
    "wrong-root": b"<Wrong><Object><Key>k</Key></Object></Wrong>",
}

# (method, on an object?, sub-resource): the operations that read an XML body.
XML_OPERATIONS = {
    "DeleteObjects": ("POST", False, "delete"),
    "CompleteMultipartUpload": ("POST", True, "uploadId={upload}"),
    "PutObjectTagging": ("PUT", True, "tagging"),
    "PutBucketTagging": ("PUT", False, "tagging"),
    "PutBucketCors": ("PUT", False, "cors"),
    "PutBucketAcl": ("PUT", False, "acl"),
    "PutObjectAcl": ("PUT", True, "acl"),
    "CreateBucket": ("PUT", False, ""),
}


@pytest.fixture(scope="module")
def victim(proxy: Proxy) -> Iterator[dict[str, Any]]:
    """An object with tags and an open multipart upload that hostile bodies aim at."""
    s3 = proxy.client("alice")
    key = unique("victim")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"still here", Tagging="keep=1")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key + "-mp")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key=key + "-mp", UploadId=upload, PartNumber=1, Body=b"p")
    yield {"key": key, "upload": upload}
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key + "-mp", UploadId=upload)
    s3.delete_object(Bucket=BUCKET, Key=key)


@pytest.mark.one_lane  # refused before any backend call
@pytest.mark.parametrize("body_name", sorted(HOSTILE_XML))
@pytest.mark.parametrize("operation", sorted(XML_OPERATIONS))
def test_hostile_xml_is_refused_and_changes_nothing(
    proxy: Proxy, victim: dict[str, Any], operation: str, body_name: str
) -> None:
    method, on_object, query = XML_OPERATIONS[operation]
    key = (
        (victim["key"] + "-mp" if operation.startswith("Complete") else victim["key"])
        if on_object
        else None
    )
    body = HOSTILE_XML[body_name]
    response = call(
        proxy, method, key, query.format(upload=victim["upload"]), body, {"Content-MD5": md5(body)}
    )
    acl = operation.endswith("Acl") and body_name in ("deep", "wrong-root")
    assert_error(response, 400, "MalformedACLError" if acl else "MalformedXML")
    s3 = proxy.client("alice")
    assert s3.get_object(Bucket=BUCKET, Key=victim["key"])["Body"].read() == b"still here"
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=victim["key"])["TagSet"]
    assert tags == [{"Key": "keep", "Value": "1"}]
    parts = s3.list_parts(Bucket=BUCKET, Key=victim["key"] + "-mp", UploadId=victim["upload"])
    assert [part["PartNumber"] for part in parts["Parts"]] == [1]


@pytest.mark.parametrize("operation", ["DeleteObjects", "CompleteMultipartUpload"])
def test_ten_megabytes_of_xml_are_refused_unread(
    proxy: Proxy, victim: dict[str, Any], operation: str
) -> None:
    method, on_object, query = XML_OPERATIONS[operation]
    body = b"<Delete><Object><Key>" + b"k" * (10 * MiB) + b"</Key></Object></Delete>"
    key = victim["key"] + "-mp" if on_object else None
    response = call(
        proxy, method, key, query.format(upload=victim["upload"]), body, {"Content-MD5": md5(body)}
    )
    assert_error(response, 400, "MalformedXML")
    assert (
        proxy.client("alice").head_object(Bucket=BUCKET, Key=victim["key"])["ContentLength"] == 10
    )


# --- DeleteObjects -----------------------------------------------------------------------------


def delete_body(*keys: str, quiet: bool = False) -> bytes:
    objects = "".join(
        f"<Object><Key>{escape(key, {chr(13): '&#13;'})}</Key></Object>" for key in keys
    )
    return f"<Delete><Quiet>{str(quiet).lower()}</Quiet>{objects}</Delete>".encode()


def put_keys(proxy: Proxy, *keys: str) -> None:
    for key in keys:
        assert call(proxy, "PUT", key, body=b"x").status == 200


def present(proxy: Proxy, key: str) -> bool:
    return call(proxy, "HEAD", key).status == 200


def test_delete_objects_of_1001_keys_is_malformed_and_deletes_nothing(proxy: Proxy) -> None:
    first = unique("d1001")
    put_keys(proxy, first)
    body = delete_body(first, *(f"{first}-{n}" for n in range(1000)))
    response = call(proxy, "POST", None, "delete", body, {"Content-MD5": md5(body)})
    assert_error(response, 400, "MalformedXML")
    assert present(proxy, first)


@pytest.mark.parametrize(
    ("digest", "status", "code"),
    [
        (None, 400, "InvalidRequest"),  # neither Content-MD5 nor an x-amz-checksum-*
        (md5(b"another body"), 400, "BadDigest"),
        ("not-base64!", 400, "InvalidDigest"),
    ],
)
def test_delete_objects_without_a_valid_digest_deletes_nothing(
    proxy: Proxy, digest: str | None, status: int, code: str
) -> None:
    key = unique("digest")
    put_keys(proxy, key)
    body = delete_body(key)
    headers = {} if digest is None else {"Content-MD5": digest}
    assert_error(call(proxy, "POST", None, "delete", body, headers), status, code)
    assert present(proxy, key)


def test_delete_objects_quiet_and_a_key_twice(proxy: Proxy) -> None:
    key = unique("twice")
    put_keys(proxy, key)
    body = delete_body(key, key, quiet=True)
    response = call(proxy, "POST", None, "delete", body, {"Content-MD5": md5(body)})
    assert response.status == 200
    root = ET.fromstring(response.body)
    assert root.tag.endswith("DeleteResult") and len(root) == 0  # quiet: successes unlisted
    assert not present(proxy, key)


# --- CompleteMultipartUpload -------------------------------------------------------------------


@pytest.fixture(scope="module")
def open_upload(proxy: Proxy) -> dict[str, Any]:
    """An upload of a 5 MiB part and two small ones, never completed by the refusals."""
    s3 = proxy.client("alice")
    key = unique("complete")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    bodies = {1: b"a" * (5 * MiB), 2: b"b" * 100, 3: b"c" * 100}
    etags = {
        number: s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body
        )["ETag"]
        for number, body in bodies.items()
    }
    return {"key": key, "upload": upload, "etags": etags, "bodies": bodies}


def complete(proxy: Proxy, upload: dict[str, Any], parts: list[tuple[Any, str]]) -> RawResponse:
    items = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts)
    body = f"<CompleteMultipartUpload>{items}</CompleteMultipartUpload>".encode()
    return call(proxy, "POST", upload["key"], f"uploadId={upload['upload']}", body)


@pytest.mark.parametrize(
    ("parts", "status", "code"),
    [
        ([(2, 2), (1, 1)], 400, "InvalidPartOrder"),
        ([(1, 1), (1, 1)], 400, "InvalidPartOrder"),
        ([(0, 1)], 400, "InvalidArgument"),
        ([(10001, 1)], 400, "InvalidArgument"),
        ([(1, 2)], 400, "InvalidPart"),  # the ETag of another part
        ([(1, 1), (4, 2)], 400, "InvalidPart"),  # a part never uploaded
        ([(1, 1)] + [(n, 2) for n in range(4, 400)], 400, "InvalidPart"),  # a body in steps
        ([(2, 2), (3, 3)], 400, "EntityTooSmall"),  # a non-final part under 5 MiB
        ([(-1, 1)], 400, "MalformedXML"),
        (["abc", 1], 400, "MalformedXML"),
        ([], 400, "MalformedXML"),
    ],
)
def test_a_refused_complete_keeps_the_upload_open(
    proxy: Proxy, open_upload: dict[str, Any], parts: list[Any], status: int, code: str
) -> None:
    if parts and not isinstance(parts[0], tuple):
        parts = [tuple(parts)]
    wire = [(number, open_upload["etags"].get(etag, '"x"')) for number, etag in parts]
    assert_error(complete(proxy, open_upload, wire), status, code)
    s3 = proxy.client("alice")
    listed = s3.list_parts(Bucket=BUCKET, Key=open_upload["key"], UploadId=open_upload["upload"])
    assert [part["PartNumber"] for part in listed["Parts"]] == [1, 2, 3]
    assert call(proxy, "HEAD", open_upload["key"]).status == 404


@pytest.mark.parametrize("spelling", ["bare", "spaces", "entities"])
def test_complete_accepts_the_etag_spellings_clients_send(proxy: Proxy, spelling: str) -> None:
    s3 = proxy.client("alice")
    key = unique("spelling")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"z")["ETag"]
    bare = etag.strip('"')
    wire = {"bare": bare, "spaces": f"  {etag}\n", "entities": f"&quot;{bare}&quot;"}[spelling]
    response = complete(proxy, {"key": key, "upload": upload}, [(1, wire)])
    assert response.status == 200, response.body
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"z"


def test_ranges_and_part_numbers_of_a_multipart_object(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = unique("parts")
    first, second = os.urandom(5 * MiB), os.urandom(1000)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, first), (2, second))
    ]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
    )
    whole = first + second
    across = call(proxy, "GET", key, headers={"Range": f"bytes={5 * MiB - 10}-{5 * MiB + 9}"})
    assert (across.status, across.body) == (206, whole[5 * MiB - 10 : 5 * MiB + 10])
    part = call(proxy, "GET", key, "partNumber=2")
    if proxy.backend == "CephRGW":  # RGW 16 ignores partNumber: refused, never the whole object
        assert_error(part, 501, "NotImplemented")
        return
    assert (part.status, part.body) == (206, second)
    assert part.header("Content-Range") == f"bytes {5 * MiB}-{len(whole) - 1}/{len(whole)}"
    assert part.header("x-amz-mp-parts-count") == "2"
    assert_error(call(proxy, "GET", key, "partNumber=3"), 416, "InvalidPartNumber")
    both = call(proxy, "GET", key, "partNumber=1", headers={"Range": "bytes=0-1"})
    assert_error(both, 400, "InvalidRequest")


# --- tagging -----------------------------------------------------------------------------------


def tagging(tags: list[tuple[str, str]]) -> bytes:
    items = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags)
    return f"<Tagging><TagSet>{items}</TagSet></Tagging>".encode()


BAD_TAGS = {
    "duplicate key": [("a", "1"), ("a", "2")],
    "129-character key": [("k" * 129, "1")],
    "257-character value": [("a", "v" * 257)],
    "invalid character": [("a#b", "1")],
    "aws: prefix": [("aws:x", "1")],
}


@pytest.mark.parametrize("case", sorted(BAD_TAGS))
@pytest.mark.parametrize("target", ["object", "bucket"])
def test_invalid_tags_are_refused_and_the_old_ones_kept(
    proxy: Proxy, victim: dict[str, Any], target: str, case: str
) -> None:
    key = victim["key"] if target == "object" else None
    body = tagging(BAD_TAGS[case])
    assert_error(
        call(proxy, "PUT", key, "tagging", body, {"Content-MD5": md5(body)}), 400, "InvalidTag"
    )
    tags = proxy.client("alice").get_object_tagging(Bucket=BUCKET, Key=victim["key"])["TagSet"]
    assert tags == [{"Key": "keep", "Value": "1"}]


@pytest.mark.parametrize(("target", "limit"), [("object", 10), ("bucket", 50)])
def test_one_tag_over_the_limit_is_refused(proxy: Proxy, target: str, limit: int) -> None:
    key = unique("limit")
    put_keys(proxy, key)
    on = key if target == "object" else None
    full = tagging([(f"k{n}", "v") for n in range(limit)])
    over = tagging([(f"k{n}", "v") for n in range(limit + 1)])
    assert_error(  # AWS: "BadRequest: Object tags cannot be greater than 10"
        call(proxy, "PUT", on, "tagging", over, {"Content-MD5": md5(over)}), 400, "BadRequest"
    )
    assert call(proxy, "PUT", on, "tagging", full, {"Content-MD5": md5(full)}).status in (200, 204)
    if target == "bucket":
        assert call(proxy, "DELETE", None, "tagging").status == 204


# --- keys --------------------------------------------------------------------------------------

ODD_KEYS = {
    "dot": ".",
    "dot-dot": "..",
    "parent": "../x",
    "double-slash": "a//b",
    "leading-slash": "/lead",
    "trailing-slash": "trail/",
    "backslash": "back\\slash",
    "xml-markup": "amp&<>'\"",
    "carriage-return": "cr\rlf\n",
    "space-plus": "sp ace+plus",
    "percent": "pct%2Fx",
    "unicode": "é/ñ/日本",
    "nul": "nul\x00in",
    "control": "ctl\x01\x1f\x7f",
    "non-character": "fffe\ufffe",
}
NOT_XML_1_0 = {"nul", "control", "non-character"}
"""Keys XML 1.0 cannot carry even as character references: S3 clients list them with
encoding-type=url, and delete them one by one."""


@pytest.mark.parametrize("name", sorted(ODD_KEYS))
def test_odd_keys_round_trip_list_copy_and_delete(proxy: Proxy, name: str) -> None:
    prefix = unique(name) + "/"
    key = prefix + ODD_KEYS[name]
    body = key.encode()
    assert call(proxy, "PUT", key, body=body).status == 200
    got = call(proxy, "GET", key)
    assert (got.status, got.body) == (200, body)
    assert list_keys(proxy, prefix, encoded=True) == [key]
    assert list_keys(proxy, key, encoded=True) == [key]  # the key itself as the prefix
    if name not in NOT_XML_1_0:
        assert list_keys(proxy, prefix, encoded=False) == [key]
    copy = prefix + "copy"
    source = quote(f"{BUCKET}/{key}", safe="/")
    assert call(proxy, "PUT", copy, headers={"x-amz-copy-source": source}).status == 200
    assert call(proxy, "GET", copy).body == body
    if name in NOT_XML_1_0:
        assert call(proxy, "DELETE", key).status == 204
        assert call(proxy, "DELETE", copy).status == 204
    else:
        request = delete_body(key, copy)
        response = call(proxy, "POST", None, "delete", request, {"Content-MD5": md5(request)})
        assert response.status == 200
        deleted = [e.text for e in ET.fromstring(response.body).iter() if e.tag.endswith("}Key")]
        assert deleted == [key, copy]
    assert list_keys(proxy, prefix, encoded=True) == []


def test_a_carriage_return_in_a_key_is_listed_as_a_reference(proxy: Proxy) -> None:
    """A raw CR in XML text reads back as LF: the client would see (and then GET) another key."""
    prefix = unique("cr") + "/"
    key = prefix + "a\rb"
    put_keys(proxy, key)
    s3 = proxy.client("alice")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    try:
        for listing in ("", "versions&", "uploads&", "list-type=2&"):
            response = call(proxy, "GET", None, f"{listing}prefix={quote(prefix, safe='')}")
            assert b"<Key>" + prefix.encode() + b"a&#13;b</Key>" in response.body, listing
            assert b"\r" not in response.body
    finally:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)


def test_a_key_that_is_not_utf8_is_invalid_uri(proxy: Proxy) -> None:
    url = f"{proxy.endpoint}/{BUCKET}/{unique('utf8')}%FF%FE"
    response = signed("PUT", url, *proxy.keys("alice"), body=b"x")
    assert_error(response, 400, "InvalidURI")


# --- bucket names ------------------------------------------------------------------------------

INVALID_BUCKETS = [
    "ab",
    "a" * 64,
    "Upper",
    "under_score",
    "192.168.1.1",
    "xn--punycode",
    "sthree-x",
    "amzn-s3-demo-bucket",
    "name-s3alias",
    "name--ol-s3",
    "name.mrap",
    "name--x-s3",
    "name--table-s3",
    "a..b",
    "-lead",
    "trail-",
]


@pytest.mark.one_lane  # refused before any backend call
@pytest.mark.parametrize("name", INVALID_BUCKETS)
def test_invalid_bucket_names(proxy: Proxy, name: str) -> None:
    ak, sk = proxy.keys("alice")
    response = signed("PUT", f"{proxy.endpoint}/{name}", ak, sk)
    assert_error(response, 400, "InvalidBucketName")
    assert_error(signed("GET", f"{proxy.endpoint}/{name}?list-type=2", ak, sk), 404, "NoSuchBucket")
    assert_error(signed("GET", f"{proxy.endpoint}/{name}/k", ak, sk), 404, "NoSuchBucket")
    assert name not in {b["Name"] for b in proxy.client("alice").list_buckets()["Buckets"]}


# --- query parameters --------------------------------------------------------------------------


@pytest.mark.one_lane  # refused before any backend call
@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("list-type=2&max-keys=-1", 400, "InvalidArgument"),
        ("list-type=2&max-keys=abc", 400, "InvalidArgument"),
        ("list-type=2&max-keys=", 400, "InvalidArgument"),
        ("list-type=2&max-keys=2147483648", 400, "InvalidArgument"),
        ("max-keys=1_000", 400, "InvalidArgument"),
        ("list-type=2&continuation-token=garbage", 400, "InvalidArgument"),
        ("encoding-type=xml", 400, "InvalidArgument"),
        ("foo", 501, "NotImplemented"),
    ],
)
def test_bad_listing_parameters(proxy: Proxy, query: str, status: int, code: str) -> None:
    assert_error(call(proxy, "GET", None, query), status, code)


def test_listing_edges(proxy: Proxy) -> None:
    prefix = unique("listing") + "/"
    put_keys(proxy, prefix + "a-x-b/1", prefix + "a-x-c", prefix + "b")
    encoded = quote(prefix, safe="")
    many = ET.fromstring(
        call(proxy, "GET", None, f"list-type=2&max-keys=100000&prefix={encoded}").body
    )
    assert [e.text for e in many.iter() if e.tag.endswith("}Key")] == [
        prefix + "a-x-b/1",
        prefix + "a-x-c",
        prefix + "b",
    ]
    past = call(proxy, "GET", None, f"list-type=2&prefix={encoded}&start-after=zzz")
    assert b"<KeyCount>0</KeyCount>" in past.body
    grouped = ET.fromstring(
        call(proxy, "GET", None, f"list-type=2&prefix={encoded}&delimiter=-x-").body
    )
    assert [e.text for e in grouped.iter() if e.tag.endswith("}Key")] == [prefix + "b"]
    assert [e.text for e in grouped.iter() if e.tag.endswith("}Prefix")][1:] == [prefix + "a-x-"]


def test_a_continuation_token_works_only_where_it_was_issued(proxy: Proxy) -> None:
    prefix = unique("token") + "/"
    put_keys(proxy, prefix + "1", prefix + "2")
    encoded = quote(prefix, safe="")
    first = call(proxy, "GET", None, f"list-type=2&max-keys=1&prefix={encoded}")
    token = re.search(rb"<NextContinuationToken>([^<]+)<", first.body)
    assert token is not None
    query = f"list-type=2&prefix={encoded}&continuation-token={quote(token.group(1), safe='')}"
    assert call(proxy, "GET", None, query).status == 200
    assert_error(call(proxy, "GET", None, query, bucket="shared"), 400, "InvalidArgument")
    other = call(proxy, "GET", None, query, bucket="shared", tenant="bob")
    assert_error(other, 400, "InvalidArgument")
    assert prefix.encode() not in other.body


@pytest.mark.parametrize(
    ("method", "query", "status", "code"),
    [
        ("GET", "partNumber=0", 400, "InvalidArgument"),
        ("GET", "partNumber=10001", 400, "InvalidArgument"),
        ("GET", "partNumber=abc", 400, "InvalidArgument"),
        ("GET", "versionId=not-a-version", 400, "InvalidArgument"),
        ("GET", "uploadId=garbage", 404, "NoSuchUpload"),
        ("GET", "foo", 501, "NotImplemented"),
        ("PUT", "uploadId=garbage&partNumber=1", 404, "NoSuchUpload"),
        ("PUT", "uploadId=garbage&partNumber=0", 400, "InvalidArgument"),
        ("PUT", "foo", 501, "NotImplemented"),
        ("DELETE", "uploadId=garbage", 404, "NoSuchUpload"),
        ("DELETE", "versionId=not-a-version", 400, "InvalidArgument"),
        ("DELETE", "foo", 501, "NotImplemented"),
    ],
)
def test_bad_object_parameters_change_nothing(
    proxy: Proxy, method: str, query: str, status: int, code: str
) -> None:
    key = unique("params")
    put_keys(proxy, key)
    assert_error(call(proxy, method, key, query, b"new" if method == "PUT" else b""), status, code)
    assert call(proxy, "GET", key).body == b"x"


def test_response_overrides_are_refused_on_anonymous_requests(proxy: Proxy) -> None:
    key = unique("public")
    proxy.client("alice").put_object(Bucket=BUCKET, Key=key, Body=b"hello", ACL="public-read")
    url = object_url(proxy.endpoint, BUCKET, key)
    assert send("GET", url, {"Host": proxy.host}).body == b"hello"
    overridden = send("GET", url + "?response-content-type=text%2Fhtml", {"Host": proxy.host})
    assert_error(overridden, 400, "InvalidRequest")
    assert overridden.header("Content-Type") != "text/html"


def test_response_overrides_go_out_as_sent_or_are_refused(proxy: Proxy) -> None:
    """As S3 answers them (wave 14 D): a value goes out in ISO-8859-1 (``é`` as 0xE9), and one
    holding a character beyond it is 400 InvalidArgument "Header value cannot be represented
    using ISO-8859-1." naming the parameter and the value."""
    key = unique("override")
    put_keys(proxy, key)
    wanted = 'attachment; filename="é ®.txt"'
    beyond = 'attachment; filename="日本 é.txt"'
    for method in ("GET", "HEAD"):
        response = call(
            proxy, method, key, f"response-content-disposition={quote(wanted, safe='')}"
        )
        assert response.status == 200
        sent_back = (response.header("Content-Disposition") or "").encode("latin-1")
        assert sent_back == wanted.encode("latin-1")
        refused = call(proxy, method, key, f"response-content-disposition={quote(beyond, safe='')}")
        assert refused.status == 400
        assert refused.header("Content-Disposition") is None
        if method == "GET":
            assert refused.error_code == "InvalidArgument"
            error = ET.fromstring(refused.body)
            assert (
                error.findtext("Message") == "Header value cannot be represented using ISO-8859-1."
            )
            assert error.findtext("ArgumentName") == "response-content-disposition"
            assert error.findtext("ArgumentValue") == beyond
        for value in ("text/plain\r\nX-Injected: 1", "a\nb", "a\x00b"):
            refused = call(proxy, method, key, f"response-content-type={quote(value, safe='')}")
            assert refused.status == 400
            assert refused.header("X-Injected") is None
            if method == "GET":
                assert refused.error_code == "InvalidArgument"


# --- ranges and conditionals -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten(proxy: Proxy) -> dict[str, str]:
    s3 = proxy.client("alice")
    key, empty = unique("ten"), unique("empty")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"0123456789")
    s3.put_object(Bucket=BUCKET, Key=empty, Body=b"")
    head = s3.head_object(Bucket=BUCKET, Key=key)
    return {
        "key": key,
        "empty": empty,
        "etag": head["ETag"],
        "modified": head["ResponseMetadata"]["HTTPHeaders"]["last-modified"],
    }


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=5-2", 200, b"0123456789", None),  # last < first: ignored
        ("bytes=0-1,3-4", 200, b"0123456789", None),  # several ranges: ignored
        ("items=0-1", 200, b"0123456789", None),
        ("bytes=a-b", 200, b"0123456789", None),
        ("bytes=-20", 206, b"0123456789", "bytes 0-9/10"),  # suffix longer than the object
        ("bytes=3-100", 206, b"3456789", "bytes 3-9/10"),
        ("bytes=9-", 206, b"9", "bytes 9-9/10"),
        ("bytes=10-", 416, None, "bytes */10"),
        ("bytes=99999999999999999999999-", 416, None, "bytes */10"),
    ],
)
def test_ranges(
    proxy: Proxy,
    ten: dict[str, str],
    header: str,
    status: int,
    body: bytes | None,
    content_range: str | None,
) -> None:
    response = call(proxy, "GET", ten["key"], headers={"Range": header})
    assert response.status == status
    if body is not None:
        assert response.body == body
    else:
        assert response.error_code == "InvalidRange"
    assert response.header("Content-Range") == content_range


def test_a_range_of_an_empty_object_is_unsatisfiable(proxy: Proxy, ten: dict[str, str]) -> None:
    response = call(proxy, "GET", ten["empty"], headers={"Range": "bytes=0-"})
    assert_error(response, 416, "InvalidRange")
    assert response.header("Content-Range") == "bytes */0"


OLD = "Mon, 01 Jan 2001 00:00:00 GMT"


@pytest.mark.parametrize(
    ("conditions", "status"),
    [
        ({"If-Match": "{etag}"}, 200),
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": "*"}, 200),
        ({"If-Match": '"other", {etag}'}, 200),
        ({"If-None-Match": "{etag}"}, 304),
        ({"If-None-Match": "W/{etag}"}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-Modified-Since": OLD}, 200),
        ({"If-Modified-Since": "{modified}"}, 304),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-Unmodified-Since": OLD}, 412),
        ({"If-Unmodified-Since": "not a date"}, 200),
        # S3's documented precedence: If-Match over If-Unmodified-Since, If-None-Match over
        # If-Modified-Since, and 412 before 304.
        ({"If-Match": "{etag}", "If-Unmodified-Since": OLD}, 200),
        ({"If-None-Match": '"other"', "If-Modified-Since": "{modified}"}, 200),
        ({"If-None-Match": "{etag}", "If-Modified-Since": OLD}, 304),
        ({"If-Match": '"other"', "If-None-Match": "{etag}"}, 412),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_conditional_reads(
    proxy: Proxy, ten: dict[str, str], method: str, conditions: dict[str, str], status: int
) -> None:
    headers = {
        name: value.replace("{etag}", ten["etag"]).replace("{modified}", ten["modified"])
        for name, value in conditions.items()
    }
    response = call(proxy, method, ten["key"], headers=headers)
    assert response.status == status
    if status == 304:
        assert response.header("ETag") == ten["etag"]
        assert response.body == b""
    if status == 412 and method == "GET":
        assert response.error_code == "PreconditionFailed"


def test_conditional_writes_and_copies(proxy: Proxy) -> None:
    key = unique("cond")
    put_keys(proxy, key)
    head = proxy.client("alice").head_object(Bucket=BUCKET, Key=key)
    etag, modified = head["ETag"], head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
    assert_error(
        call(proxy, "PUT", key, body=b"new", headers={"If-None-Match": "*"}),
        412,
        "PreconditionFailed",
    )
    assert_error(
        call(proxy, "PUT", key, body=b"new", headers={"If-Match": '"other"'}),
        412,
        "PreconditionFailed",
    )
    assert call(proxy, "GET", key).body == b"x"
    source = {"x-amz-copy-source": f"{BUCKET}/{key}"}
    refused = [
        {"x-amz-copy-source-if-match": '"other"'},
        {"x-amz-copy-source-if-none-match": etag},
        {"x-amz-copy-source-if-modified-since": modified},
        {"x-amz-copy-source-if-unmodified-since": OLD},
    ]
    for conditions in refused:
        response = call(proxy, "PUT", key + "-copy", headers={**source, **conditions})
        assert_error(response, 412, "PreconditionFailed")
        assert call(proxy, "HEAD", key + "-copy").status == 404
    allowed = {"x-amz-copy-source-if-match": etag, "x-amz-copy-source-if-unmodified-since": OLD}
    assert call(proxy, "PUT", key + "-copy", headers={**source, **allowed}).status == 200


# --- metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "query", "copy"),
    [
        ("PutObject", "", False),
        ("CreateMultipartUpload", "uploads", False),
        ("CopyObject", "", True),
    ],
)
def test_metadata_over_2_kb_is_refused(
    proxy: Proxy, operation: str, query: str, copy: bool
) -> None:
    key = unique("meta")
    put_keys(proxy, key)
    headers = {"x-amz-meta-a": "v" * 1000, "x-amz-meta-b": "w" * 1047}  # 2 + 2047 bytes
    if copy:
        headers |= {"x-amz-copy-source": f"{BUCKET}/{key}", "x-amz-metadata-directive": "REPLACE"}
    method = "POST" if query else "PUT"
    body = b"" if query or copy else b"new"
    assert_error(call(proxy, method, key, query, body, headers), 400, "MetadataTooLarge")
    assert call(proxy, "GET", key).body == b"x"
    headers["x-amz-meta-b"] = "w" * 1046  # exactly 2 KB is allowed
    response = call(proxy, method, key, query, body, headers)
    assert response.status == 200, response.body
    if query:
        upload = ET.fromstring(response.body).findtext("{*}UploadId")
        proxy.client("alice").abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)
    else:
        assert call(proxy, "HEAD", key).header("x-amz-meta-b") == "w" * 1046


def test_content_headers_round_trip(proxy: Proxy) -> None:
    key = unique("content")
    headers = {
        "Content-Type": "text/x-weird; charset=utf-8",
        "Content-Disposition": 'attachment; filename="f oo.txt"',
        "Cache-Control": "max-age=1, no-transform",
        "Expires": "Thu, 01 Dec 2094 16:00:00 GMT",
        "Content-Language": "de-CH",
        "x-amz-meta-colour": "blue",
    }
    assert call(proxy, "PUT", key, body=b"c", headers=headers).status == 200
    for method in ("GET", "HEAD"):
        response = call(proxy, method, key)
        assert {name: response.header(name) for name in headers} == headers


@pytest.mark.parametrize(
    ("directive", "content_type", "colour"),
    [("COPY", "text/plain", "blue"), ("REPLACE", "a/b", "red"), ("replace", "a/b", "red")],
)
def test_metadata_directive(proxy: Proxy, directive: str, content_type: str, colour: str) -> None:
    key = unique("directive")
    assert (
        call(
            proxy,
            "PUT",
            key,
            body=b"d",
            headers={"Content-Type": "text/plain", "x-amz-meta-colour": "blue"},
        ).status
        == 200
    )
    headers = {
        "x-amz-copy-source": f"{BUCKET}/{key}",
        "x-amz-metadata-directive": directive,
        "Content-Type": "a/b",
        "x-amz-meta-colour": "red",
    }
    assert call(proxy, "PUT", key + "-copy", headers=headers).status == 200
    copied = call(proxy, "HEAD", key + "-copy")
    assert (copied.header("Content-Type"), copied.header("x-amz-meta-colour")) == (
        content_type,
        colour,
    )


@pytest.mark.parametrize("header", ["x-amz-metadata-directive", "x-amz-tagging-directive"])
def test_an_unknown_directive_is_invalid_argument(proxy: Proxy, header: str) -> None:
    key = unique("garbage")
    put_keys(proxy, key)
    headers = {"x-amz-copy-source": f"{BUCKET}/{key}", header: "MERGE"}
    assert_error(call(proxy, "PUT", key + "-copy", headers=headers), 400, "InvalidArgument")
    assert call(proxy, "HEAD", key + "-copy").status == 404


def test_tagging_directive(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = unique("tagdir")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"t", Tagging="old=1")
    for directive, expected in (("COPY", [("old", "1")]), ("REPLACE", [("new", "2")])):
        headers = {
            "x-amz-copy-source": f"{BUCKET}/{key}",
            "x-amz-tagging-directive": directive,
            "x-amz-tagging": "new=2",
        }
        assert call(proxy, "PUT", f"{key}-{directive}", headers=headers).status == 200
        tags = s3.get_object_tagging(Bucket=BUCKET, Key=f"{key}-{directive}")["TagSet"]
        assert [(t["Key"], t["Value"]) for t in tags] == expected
