"""Wave 11 A: what ceph/s3-tests (s3tests_boto3/functional/test_s3.py) checks of objects,
buckets and listings that the other test_s3tests_*.py files did not restate yet, in our own
words, on every lane where the backend matters; helpers in tests/support/s3tests.py.

Each check names, in its docstring, the s3-tests functions (or the AWS rule) it covers. Where
s3-tests asserts an RGW-only behaviour, the check follows AWS and says so.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, send, signed
from tests.support.s3tests import MakeBucket, body_of, bucket_factory, failure

pytestmark = pytest.mark.integration

DEFAULT_TYPE = "binary/octet-stream"


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def test_an_object_written_without_a_type_is_binary_octet_stream(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """AWS's PutObject, CreateMultipartUpload and CopyObject (REPLACE) store
    ``binary/octet-stream`` when the write names no Content-Type, and GET/HEAD return it;
    test_object_copy_verify_contenttype checks a named type survives a copy. Before, the type
    was the upstream's guess: none at all on the local store, ``text/plain; charset=utf-8``
    sniffed from the body by SeaweedFS, S3's default only on Ceph RGW."""
    s3, bucket = proxy.client("alice"), make_bucket()
    access_key, secret_key = proxy.keys("alice")
    put = signed("PUT", object_url(proxy.endpoint, bucket, "plain"), access_key, secret_key,
                 {}, b"hello, text")  # fmt: skip
    assert put.status == 200
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=b"x")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="parts",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag["ETag"]}]},
    )
    s3.put_object(Bucket=bucket, Key="typed", Body=b"<p/>", ContentType="text/html")
    s3.copy_object(
        Bucket=bucket,
        Key="replaced",
        CopySource={"Bucket": bucket, "Key": "typed"},
        MetadataDirective="REPLACE",
    )
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "typed"})
    for key in ("plain", "parts", "replaced"):
        assert s3.head_object(Bucket=bucket, Key=key)["ContentType"] == DEFAULT_TYPE, key
        assert s3.get_object(Bucket=bucket, Key=key)["ContentType"] == DEFAULT_TYPE, key
    got = s3.get_object(Bucket=bucket, Key="copied")
    assert (got["ContentType"], body_of(got)) == ("text/html", b"<p/>")


def _form(fields: dict[str, str]) -> tuple[bytes, str]:
    return urllib3.encode_multipart_formdata({**fields, "file": ("f.txt", b"bar")})


@pytest.mark.one_lane  # refused by the routing table, before any backend call
def test_a_browser_form_upload_is_not_implemented(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """test_post_object_anonymous_request, test_post_object_authenticated_request and the other
    test_post_object_* (s3-tests expects 204 and the object stored): PostObject is not
    implemented, so every form, signed in its fields, in the Authorization header or not at all,
    is 501 NotImplemented and stores nothing, the same answer for a bucket that does not exist.
    Before, a form without an Authorization header (how browsers send them) was 403
    AccessDenied, even in a public-read-write bucket, as if its signature were wrong."""
    s3, bucket = proxy.client("alice"), make_bucket()
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    access_key, secret_key = proxy.keys("alice")
    forms = [
        _form({"key": "posted", "acl": "public-read", "Content-Type": "text/plain"}),
        _form({"key": "posted", "AWSAccessKeyId": access_key, "policy": "e30=",
               "signature": "c2ln"}),
        _form({"key": "posted", "x-amz-algorithm": "AWS4-HMAC-SHA256", "policy": "e30=",
               "x-amz-credential": f"{access_key}/20261204/us-east-1/s3/aws4_request",
               "x-amz-date": "20261204T000000Z", "x-amz-signature": "00"}),
    ]  # fmt: skip
    answers: list[RawResponse] = []
    for target in (bucket, "s3t-missing-" + bucket[4:]):
        url = object_url(proxy.endpoint, target)
        for body, content_type in forms:
            answers.append(
                send("POST", url, {"Host": proxy.host, "Content-Type": content_type}, body)
            )
        body, content_type = forms[0]
        answers.append(
            signed("POST", url, access_key, secret_key, {"Content-Type": content_type}, body)
        )
    for answer in answers:
        assert (answer.status, answer.error_code) == (501, "NotImplemented")
        assert b"POST Object" in answer.body
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="posted")
    assert failure(missing)[0] == 404


# Bucket settings the gateway does not carry out, each called as botocore names it, with the
# s3-tests functions that exercise it: every form must be 501 NotImplemented, never a 200 that
# configured nothing (the routing table refuses them: tests/unit/test_routing_table.py).
_POLICY = '{"Version": "2012-10-17", "Statement": []}'
_NOT_CARRIED_OUT: list[tuple[str, dict[str, object]]] = [
    ("get_bucket_policy", {}),  # test_bucket_policy*, test_get_bucket_policy_status
    ("put_bucket_policy", {"Policy": _POLICY}),
    ("delete_bucket_policy", {}),
    ("get_bucket_policy_status", {}),
    ("get_bucket_lifecycle_configuration", {}),  # test_lifecycle_*
    ("put_bucket_lifecycle_configuration", {"LifecycleConfiguration": {"Rules": [
        {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]}}),
    ("delete_bucket_lifecycle", {}),
    ("get_bucket_logging", {}),  # test_bucket_logging_*
    ("put_bucket_logging", {"BucketLoggingStatus": {}}),
    ("get_public_access_block", {}),  # test_get_public_block, test_put_public_block, test_block_*
    ("put_public_access_block", {"PublicAccessBlockConfiguration": {"BlockPublicAcls": True}}),
    ("delete_public_access_block", {}),
    ("put_bucket_ownership_controls", {"OwnershipControls": {"Rules": [  # the others: w12j
        {"ObjectOwnership": "ObjectWriter"}]}}),
    ("get_bucket_encryption", {}),  # test_put_bucket_encryption_*, test_get_bucket_encryption_*
    ("put_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
    ("delete_bucket_encryption", {}),
    ("get_bucket_website", {}),
    ("put_bucket_website", {"WebsiteConfiguration": {"IndexDocument": {"Suffix": "i.html"}}}),
    ("delete_bucket_website", {}),
    ("get_bucket_notification_configuration", {}),  # test_sns.py
    ("put_bucket_notification_configuration", {"NotificationConfiguration": {}}),
    ("get_bucket_replication", {}),  # test_replication.py
    ("delete_bucket_replication", {}),
    ("get_bucket_request_payment", {}),
    ("put_bucket_request_payment", {"RequestPaymentConfiguration": {"Payer": "Requester"}}),
    ("get_bucket_accelerate_configuration", {}),
    ("put_bucket_accelerate_configuration", {"AccelerateConfiguration": {"Status": "Enabled"}}),
    ("list_bucket_inventory_configurations", {}),
    ("list_bucket_analytics_configurations", {}),
    ("list_bucket_metrics_configurations", {}),
    ("list_bucket_intelligent_tiering_configurations", {}),
]  # fmt: skip


@pytest.mark.one_lane  # refused by the routing table, before any backend call
def test_bucket_settings_not_carried_out_are_501(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """test_bucket_policy*, test_lifecycle_*, test_bucket_logging_*, test_*_public_block,
    ownership other than BucketOwnerEnforced, default encryption, website, notification,
    replication, request payment, accelerate, inventory, analytics, metrics, intelligent tiering;
    object restore (test_restore_object*), torrent and S3 Select (test_s3select.py): each is 501
    NotImplemented, never a 200 that set or read nothing. (Object lock and ownership controls:
    test_w12j_lock_ownership.py.)"""
    s3, bucket = proxy.client("alice"), make_bucket(["k"])
    calls = [(name, {"Bucket": bucket, **params}) for name, params in _NOT_CARRIED_OUT]
    calls += [
        ("restore_object", {"Bucket": bucket, "Key": "k", "RestoreRequest": {"Days": 1}}),
        ("get_object_torrent", {"Bucket": bucket, "Key": "k"}),
    ]
    for name, params in calls:
        with pytest.raises(ClientError) as refused:
            getattr(s3, name)(**params)
        assert failure(refused) == (501, "NotImplemented"), name
    access_key, secret_key = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, "k", "select&select-type=2")
    select = signed("POST", url, access_key, secret_key, {}, b"<SelectObjectContentRequest/>")
    assert (select.status, select.error_code) == (501, "NotImplemented")


def test_if_match_with_a_weak_etag_fails_on_every_lane(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_get_object_ifmatch_failed, test_get_object_ifnonematch_good with the object's own
    ETag marked weak: If-Match compares strongly (RFC 9110), so ``W/"etag"`` is 412 on GET and
    HEAD; If-None-Match compares weakly, so it is 304. SeaweedFS and Ceph RGW answered so; the
    local store served the object under the weak If-Match (200)."""
    s3, bucket = proxy.client("alice"), make_bucket(["foo"])
    access_key, secret_key = proxy.keys("alice")
    weak = "W/" + s3.head_object(Bucket=bucket, Key="foo")["ETag"]
    url = object_url(proxy.endpoint, bucket, "foo")
    for method in ("GET", "HEAD"):
        refused = signed(method, url, access_key, secret_key, {"If-Match": weak})
        assert refused.status == 412, method
        unchanged = signed(method, url, access_key, secret_key, {"If-None-Match": weak})
        assert unchanged.status == 304, method


def test_metadata_names_keep_their_underscores(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """test_object_set_get_metadata_none_to_good with a name holding ``_``: S3 keeps user
    metadata names as sent (lower-cased), so ``a_b`` and ``a-b`` are two names (Ceph RGW 16
    turns ``_`` into ``-``; the proxy packs such names there, test_w13b_metadata_names.py)."""
    s3, bucket = proxy.client("alice"), make_bucket()
    metadata = {"a_b": "1", "c-d": "2", "e.f": "3"}
    s3.put_object(Bucket=bucket, Key="foo", Body=b"bar", Metadata=metadata)
    assert s3.head_object(Bucket=bucket, Key="foo")["Metadata"] == metadata


@pytest.mark.one_lane  # the size is judged before any backend call
def test_delete_objects_of_a_thousand_long_escaped_keys(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_multi_object_delete_key_limit's upper edge: 1,000 entries is legal whatever the
    keys' length (up to 1,024 bytes), and escaped XML makes the body far larger than the keys
    (an SDK writes ``&`` as ``&amp;``: 1,000 such keys come to 5.2 MB; here every ``a`` is
    ``&#97;``). A 3 MB DeleteObjects was 400 MalformedXML "Your request body is too large"
    (a 2 MiB cap); now it deletes."""
    keys = [f"{n:04d}" + "a" * 600 for n in range(1000)]
    s3, bucket = proxy.client("alice"), make_bucket(keys[:2])
    entries = "".join(f"<Object><Key>{n:04d}{'&#97;' * 600}</Key></Object>" for n in range(1000))
    body = f"<Delete><Quiet>true</Quiet>{entries}</Delete>".encode()
    assert len(body) > 3_000_000
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    access_key, secret_key = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, None, "delete")
    answer = signed("POST", url, access_key, secret_key, {"Content-MD5": md5}, body)
    assert answer.status == 200, answer.body[:300]
    assert b"<Error>" not in answer.body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_readable_bucket_answers_head_and_versions_to_whom_it_grants_read(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_bucket_list_objects_anonymous, test_access_bucket_publicread_object_private (the alt
    user is bob) and test_bucket_head, for everyone a bucket's ACL lets read it: S3's READ
    grant on a bucket is s3:ListBucket, which HeadBucket needs too, and s3:ListBucketVersions.
    Before, the listing was served while HeadBucket said 403 (anonymous) or 404 (bob) and
    ListObjectVersions said 403 or NoSuchBucket: a tool that checks the bucket first gave up."""
    s3, bucket = proxy.client("alice"), make_bucket(["k"])
    bob = proxy.client("bob")
    url = object_url(proxy.endpoint, bucket)
    versions = object_url(proxy.endpoint, bucket, None, "versions")
    host = {"Host": proxy.host}
    assert send("HEAD", url, host).status == 403  # private: nothing granted
    with pytest.raises(ClientError) as private:
        bob.head_bucket(Bucket=bucket)
    assert failure(private)[0] == 404
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert send("HEAD", url, host).status == 200
    listed = send("GET", versions, host)
    assert listed.status == 200 and b"<Key>k</Key>" in listed.body
    s3.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    assert send("HEAD", url, host).status == 403  # never anonymous
    assert bob.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [v["Key"] for v in bob.list_object_versions(Bucket=bucket)["Versions"]] == ["k"]
