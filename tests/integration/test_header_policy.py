"""The header policy end to end: every x-amz-* header is acted on or refused, on every lane
(what the policy itself refuses, before any backend call, on one: :func:`policy`).

boto3 sends each header as a user would ask for it; every refusal is followed by a read that
shows the old state, so a refused request is proven to have stored (or deleted) nothing.
"""

from __future__ import annotations

import datetime
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import TENANT_KEYS, Proxy, client_for, start_proxy
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"
OLD = b"the old contents"
SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32}
RETAIN = datetime.datetime(2040, 1, 1, tzinfo=datetime.UTC)


def policy(*values: Any) -> Any:
    """A case the header policy refuses (s3proxy/header_policy.py, after authentication and
    before the handler): its answer cannot depend on the lane, so it runs on one. Refusals the
    handlers decide (storage class, tags, SSE: the backend says which it forwards) run on all."""
    return pytest.param(*values, marks=pytest.mark.one_lane)


def refused(call: Callable[[], Any]) -> tuple[int, str, dict[str, Any]]:
    """(HTTP status, S3 error code, the whole parsed <Error>) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        int(response["ResponseMetadata"]["HTTPStatusCode"]),
        str(response["Error"]["Code"]),
        dict(response["Error"]),
    )


@pytest.fixture()
def key(proxy: Proxy) -> Iterator[str]:
    """An existing object holding OLD; removed afterwards."""
    name = "header-policy/" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key=name, Body=OLD, Metadata={"state": "old"})
    yield name
    s3.delete_object(Bucket=BUCKET, Key=name)


def writer(proxy: Proxy, **extra: Any) -> Any:
    """A client of its own for a refused request with a body, with ``extra`` settings (the
    connection it refuses is closed: test_early_refusal.py proves the next call still works)."""
    return client(proxy, **extra)


def assert_unchanged(s3: Any, key: str) -> None:
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == OLD
    assert got["Metadata"] == {"state": "old"}
    assert "StorageClass" not in got or got["StorageClass"] == "STANDARD"


def assert_no_upload(s3: Any, key: str) -> None:
    uploads = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", [])
    assert uploads == []


def with_header(s3: Any, name: str, value: str) -> Callable[[], None]:
    """Make ``s3``'s next call carry an extra header (signed); returns the unregister call."""

    def add(request: Any, **_: Any) -> None:
        request.headers[name] = value

    s3.meta.events.register_first("before-sign.s3", add)
    return lambda: s3.meta.events.unregister("before-sign.s3", add)


# --- PutObject --------------------------------------------------------------------------------

PUT_REFUSALS: list[Any] = [
    policy({"ACL": "public-read-write"}, 501, "NotImplemented"),  # public-read: test_anonymous
    policy({"ACL": "aws-exec-read"}, 501, "NotImplemented"),  # authenticated-read: its own file
    policy({"ACL": "no-such-acl"}, 400, "InvalidArgument"),
    policy({"GrantRead": 'id="012345678901"'}, 501, "NotImplemented"),
    policy({"GrantFullControl": 'id="012345678901"'}, 501, "NotImplemented"),
    ({"StorageClass": "NOT_A_CLASS"}, 400, "InvalidStorageClass"),
    ({"ServerSideEncryption": "AES256"}, 501, "NotImplemented"),
    policy({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key"}, 501, "NotImplemented"),
    (SSE_C, 501, "NotImplemented"),
    ({"Tagging": "aws:team=blue"}, 400, "InvalidTag"),
    policy(
        {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": RETAIN},
        400,
        "InvalidRequest",
    ),
    policy({"ObjectLockLegalHoldStatus": "ON"}, 400, "InvalidRequest"),
    policy({"WebsiteRedirectLocation": "/elsewhere"}, 501, "NotImplemented"),
]


@pytest.mark.parametrize(("params", "status", "code"), PUT_REFUSALS)
def test_put_object_refusals_store_nothing(
    proxy: Proxy, key: str, params: dict[str, Any], status: int, code: str
) -> None:
    s3 = writer(proxy)
    got = refused(lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"new", **params))
    assert got[:2] == (status, code)
    if code == "InvalidRequest":
        assert got[2]["Message"] == "Bucket is missing Object Lock Configuration"
    assert_unchanged(proxy.client("alice"), key)


@pytest.mark.one_lane  # refused by the header policy
def test_put_object_refusal_to_a_new_key_creates_nothing(proxy: Proxy) -> None:
    s3 = writer(proxy)
    name = "header-policy/new-" + os.urandom(5).hex()
    got = refused(
        lambda: s3.put_object(Bucket=BUCKET, Key=name, Body=b"x", ACL="public-read-write")
    )
    assert got[:2] == (501, "NotImplemented")
    assert got[2]["Header"] == "x-amz-acl"
    reader = proxy.client("alice")
    assert refused(lambda: reader.head_object(Bucket=BUCKET, Key=name))[0] == 404


@pytest.mark.parametrize(
    "params",
    [
        {"ACL": "private"},
        {"ACL": "bucket-owner-full-control"},
        {"StorageClass": "STANDARD"},
        {"Metadata": {"mtime": "1700000000.123"}, "ACL": "private"},  # rclone's defaults
    ],
)
def test_put_object_with_what_is_already_so_is_served(
    proxy: Proxy, key: str, params: dict[str, Any]
) -> None:
    s3 = proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"new", **params)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"new"


@pytest.mark.one_lane  # refused by the header policy
def test_an_unknown_header_is_501_naming_it(proxy: Proxy, key: str) -> None:
    s3 = writer(proxy)
    with_header(s3, "x-amz-fancy-new-feature", "on")
    got = refused(lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"new"))
    assert got[:2] == (501, "NotImplemented")
    assert got[2]["Header"] == "x-amz-fancy-new-feature"
    assert_unchanged(proxy.client("alice"), key)


def client(proxy: Proxy, **extra: Any) -> Any:
    """A fresh client of alice's (event hooks registered on it stay on it)."""
    return client_for(proxy.endpoint, *TENANT_KEYS["alice"], **extra)


@pytest.mark.one_lane  # refused by the header policy
def test_a_session_token_is_invalid(proxy: Proxy, key: str) -> None:
    s3 = writer(proxy, aws_session_token="FQoGZXIvYXdzEXAMPLE")
    got = refused(lambda: s3.get_object(Bucket=BUCKET, Key=key))
    assert got[:2] == (400, "InvalidToken")
    got = refused(lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"new"))
    assert got[:2] == (400, "InvalidToken")
    assert_unchanged(proxy.client("alice"), key)


# --- reads with SSE-C: never answered as if the key mattered ----------------------------------


@pytest.mark.one_lane  # refused before the upstream is asked
def test_get_and_head_with_sse_c_are_refused(proxy: Proxy, key: str) -> None:
    """The session proxy serves plain HTTP and its upstream lists no SSE: S3's 400 for a key
    sent over HTTP (501 until wave 14 H2; behind TLS: test_w14h2_sse_reads)."""
    s3 = proxy.client("alice")
    got = refused(lambda: s3.get_object(Bucket=BUCKET, Key=key, **SSE_C))
    assert got[:2] == (400, "InvalidRequest") and "secure connection" in got[2]["Message"]
    assert refused(lambda: s3.head_object(Bucket=BUCKET, Key=key, **SSE_C))[0] == 400


# --- CopyObject -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        policy({"ACL": "public-read-write"}, 501, "NotImplemented"),
        ({"StorageClass": "BOGUS"}, 400, "InvalidStorageClass"),
        ({"ServerSideEncryption": "AES256"}, 501, "NotImplemented"),
        ({"Tagging": "a=1&a=2", "TaggingDirective": "REPLACE"}, 400, "InvalidArgument"),
        policy(
            {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": RETAIN},
            400,
            "InvalidRequest",
        ),
        policy({"WebsiteRedirectLocation": "/x"}, 501, "NotImplemented"),
        (
            {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": "k" * 32},
            501,
            "NotImplemented",
        ),
    ],
)
def test_copy_object_refusals_store_nothing(
    proxy: Proxy, key: str, params: dict[str, Any], status: int, code: str
) -> None:
    s3 = proxy.client("alice")
    source = key + "-src"
    s3.put_object(Bucket=BUCKET, Key=source, Body=b"source")
    try:
        got = refused(
            lambda: s3.copy_object(
                Bucket=BUCKET,
                Key=key,
                CopySource={"Bucket": BUCKET, "Key": source},
                MetadataDirective="REPLACE",
                **params,
            )
        )
        assert got[:2] == (status, code)
        assert_unchanged(s3, key)
    finally:
        s3.delete_object(Bucket=BUCKET, Key=source)


def test_copy_object_with_private_acl_and_tagging_directive_copy_is_served(
    proxy: Proxy, key: str
) -> None:
    s3 = proxy.client("alice")
    target = key + "-copy"
    s3.copy_object(
        Bucket=BUCKET,
        Key=target,
        CopySource={"Bucket": BUCKET, "Key": key},
        ACL="private",
        TaggingDirective="COPY",
        StorageClass="STANDARD",
    )
    try:
        assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == OLD
    finally:
        s3.delete_object(Bucket=BUCKET, Key=target)


# --- CreateMultipartUpload --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        policy({"ACL": "aws-exec-read"}, 501, "NotImplemented"),
        policy({"GrantRead": 'id="012345678901"'}, 501, "NotImplemented"),
        ({"StorageClass": "COLDEST"}, 400, "InvalidStorageClass"),
        ({"ServerSideEncryption": "AES256"}, 501, "NotImplemented"),
        (SSE_C, 501, "NotImplemented"),
        ({"Tagging": "a=b&c=%3C%3E"}, 400, "InvalidTag"),
        policy({"ObjectLockLegalHoldStatus": "ON"}, 400, "InvalidRequest"),
        policy({"WebsiteRedirectLocation": "/x"}, 501, "NotImplemented"),
    ],
)
def test_create_multipart_upload_refusals_start_nothing(
    proxy: Proxy, key: str, params: dict[str, Any], status: int, code: str
) -> None:
    s3 = proxy.client("alice")
    got = refused(lambda: s3.create_multipart_upload(Bucket=BUCKET, Key=key, **params))
    assert got[:2] == (status, code)
    assert_no_upload(s3, key)
    assert_unchanged(s3, key)


def test_upload_part_with_sse_c_stores_no_part(proxy: Proxy, key: str) -> None:
    s3 = proxy.client("alice")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    try:
        part = writer(proxy)
        got = refused(
            lambda: part.upload_part(
                Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"part", **SSE_C
            )
        )
        assert got[:2] == (501, "NotImplemented")
        assert s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload).get("Parts", []) == []
    finally:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)
    assert_unchanged(s3, key)


# --- CreateBucket -----------------------------------------------------------------------------


@pytest.mark.one_lane  # every case refused by the header policy
@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"ACL": "log-delivery-write"}, 501, "NotImplemented"),  # public-read: test_acl.py
        ({"ACL": "bogus"}, 400, "InvalidArgument"),
        ({"GrantFullControl": 'id="012345678901"'}, 501, "NotImplemented"),
        ({"ObjectLockEnabledForBucket": True}, 501, "NotImplemented"),
        ({"ObjectOwnership": "ObjectWriter"}, 501, "NotImplemented"),
        ({"ObjectOwnership": "BucketOwnerPreferred"}, 501, "NotImplemented"),
    ],
)
def test_create_bucket_refusals_create_nothing(
    proxy: Proxy, params: dict[str, Any], status: int, code: str
) -> None:
    s3 = proxy.client("alice")
    name = "hp-" + os.urandom(5).hex()
    got = refused(lambda: s3.create_bucket(Bucket=name, **params))
    assert got[:2] == (status, code)
    assert refused(lambda: s3.head_bucket(Bucket=name))[0] == 404
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


@pytest.mark.parametrize(
    "params",
    [
        {"ACL": "private"},
        {"ObjectLockEnabledForBucket": False},
        {"ObjectOwnership": "BucketOwnerEnforced"},
    ],
)
def test_create_bucket_with_what_is_already_so_is_served(
    proxy: Proxy, params: dict[str, Any]
) -> None:
    s3 = proxy.client("alice")
    name = "hp-" + os.urandom(5).hex()
    s3.create_bucket(Bucket=name, **params)
    s3.head_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)


# --- deletes ----------------------------------------------------------------------------------


@pytest.mark.one_lane  # refused by the header policy
def test_delete_with_mfa_deletes_nothing(proxy: Proxy, key: str) -> None:
    s3 = proxy.client("alice")
    mfa = "arn:aws:iam::123456789012:mfa/user 123456"
    got = refused(lambda: s3.delete_object(Bucket=BUCKET, Key=key, MFA=mfa))
    assert got[:2] == (501, "NotImplemented")
    many = writer(proxy)
    got = refused(
        lambda: many.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key}]}, MFA=mfa)
    )
    assert got[:2] == (501, "NotImplemented")
    assert_unchanged(s3, key)


def test_delete_bypassing_governance_retention_is_a_plain_delete(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    name = "header-policy/bypass-" + os.urandom(5).hex()
    s3.put_object(Bucket=BUCKET, Key=name, Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key=name, BypassGovernanceRetention=True)
    assert refused(lambda: s3.head_object(Bucket=BUCKET, Key=name))[0] == 404


# --- headers hoisted into the query string (presigners do this) -------------------------------


@pytest.mark.one_lane  # refused by the header policy (hoisted forms)
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("x-amz-acl=public-read-write", "NotImplemented"),
        ("x-amz-storage-class=GLACIER", "NotImplemented"),
        ("x-amz-meta-colour=red", "NotImplemented"),  # read from headers only: never dropped
        ("x-amz-server-side-encryption=AES256", "NotImplemented"),
    ],
)
def test_hoisted_query_headers_are_answered_like_headers(
    proxy: Proxy, key: str, query: str, code: str
) -> None:
    ak, sk = proxy.keys("alice")
    response = signed("PUT", object_url(proxy.endpoint, BUCKET, key, query), ak, sk, body=b"new")
    assert (response.status, response.error_code) == (501, code)
    header = ET.fromstring(response.body).findtext("Header")
    assert header == query.split("=", 1)[0]
    assert_unchanged(proxy.client("alice"), key)


# --- server.ignore_unknown_headers ------------------------------------------------------------


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A proxy on a local store with ignore_unknown_headers: true."""
    workdir: Path = tmp_path_factory.mktemp("lenient")
    running = start_proxy(None, None, workdir, server={"ignore_unknown_headers": True})
    try:
        yield running
    finally:
        running.process.stop()


def test_ignore_unknown_headers_ignores_only_unknown_names(lenient: Proxy) -> None:
    s3 = client(lenient)
    name = "lenient-" + os.urandom(5).hex()
    undo = with_header(s3, "x-amz-fancy-new-feature", "on")
    s3.put_object(Bucket=BUCKET, Key=name, Body=b"stored")
    undo()
    assert s3.get_object(Bucket=BUCKET, Key=name)["Body"].read() == b"stored"
    # Headers the policy names keep their answers.
    first, second = writer(lenient), writer(lenient)
    got = refused(
        lambda: first.put_object(Bucket=BUCKET, Key=name, Body=b"x", ACL="public-read-write")
    )
    assert got[:2] == (501, "NotImplemented")
    got = refused(lambda: second.put_object(Bucket=BUCKET, Key=name, Body=b"x", StorageClass="X"))
    assert got[:2] == (400, "InvalidStorageClass")
    assert s3.get_object(Bucket=BUCKET, Key=name)["Body"].read() == b"stored"
    s3.delete_object(Bucket=BUCKET, Key=name)


def test_headers_s3_defines_stay_refused_when_unknown_headers_are_ignored(
    lenient: Proxy,
) -> None:
    """An append offset, an x-amz-if-* delete condition, a checksum algorithm the gateway does
    not compute: named in botocore's model, so refused even here. Dropped, the append replaced
    the object with its tail and the conditional delete removed it whatever its size."""
    s3 = client(lenient)
    name = "lenient-" + os.urandom(5).hex()
    s3.put_object(Bucket=BUCKET, Key=name, Body=b"stored")
    got = refused(
        lambda: writer(lenient).put_object(
            Bucket=BUCKET, Key=name, Body=b" more", WriteOffsetBytes=6
        )
    )
    assert (*got[:2], got[2]["Header"]) == (501, "NotImplemented", "x-amz-write-offset-bytes")
    got = refused(lambda: s3.delete_object(Bucket=BUCKET, Key=name, IfMatchSize=1))
    assert (*got[:2], got[2]["Header"]) == (501, "NotImplemented", "x-amz-if-match-size")
    third = writer(lenient)
    undo = with_header(third, "x-amz-checksum-xxhash64", "AAAAAAAAAAA=")
    got = refused(lambda: third.put_object(Bucket=BUCKET, Key=name, Body=b"other"))
    undo()
    assert (*got[:2], got[2]["Header"]) == (501, "NotImplemented", "x-amz-checksum-xxhash64")
    assert s3.get_object(Bucket=BUCKET, Key=name)["Body"].read() == b"stored"
    s3.delete_object(Bucket=BUCKET, Key=name)
