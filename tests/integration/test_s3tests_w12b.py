"""What ceph/s3-tests checks of ACLs, checksums, copies, multipart uploads and encryption that
the earlier ports (tests/integration/test_s3tests_*.py) left out or that the gateway answered
otherwise than AWS, restated in our own words, on every lane where the backend matters. Each
check names the s3-tests functions (or AWS pages) it stands for; the census of every function
is conformance/s3tests_census_access.md."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, client_for
from tests.support.s3http import object_url, send
from tests.support.s3tests import MakeBucket, bucket_factory, failure

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as excinfo:
        call()
    return failure(excinfo)


def with_headers(proxy: Proxy, operation: str, headers: dict[str, str]) -> Any:
    """A fresh alice client whose ``operation`` requests carry ``headers`` (signed)."""
    s3 = client_for(proxy.endpoint, *proxy.keys("alice"))

    def add(params: dict[str, Any], **_: Any) -> None:
        params["headers"].update(headers)

    s3.meta.events.register(f"before-call.s3.{operation}", add)
    return s3


def test_a_bucket_owner_enforced_bucket_takes_no_acl(proxy: Proxy) -> None:
    """test_bucket_acl_canned_during_create and test_object_acl_canned_during_create on a
    bucket created with ``x-amz-object-ownership: BucketOwnerEnforced`` (AWS's "Object
    Ownership" troubleshooting page): ACLs are disabled there, so a public-read bucket is
    400 InvalidBucketAclWithObjectOwnership and is not made (a private one is: rclone sends
    ``x-amz-acl: private`` on every CreateBucket), and every request setting an ACL other than
    the owner's full control is 400 AccessControlListNotSupported and stores nothing. The
    gateway accepted the header and then made the bucket and its objects public, readable
    anonymously, where S3 refuses."""
    s3 = proxy.client("alice")
    name = f"s3t-{os.urandom(6).hex()}"
    create = s3.create_bucket
    enforced = {"ObjectOwnership": "BucketOwnerEnforced"}
    assert refused(lambda: create(Bucket=name, ACL="public-read", **enforced)) == (
        400,
        "InvalidBucketAclWithObjectOwnership",
    )
    assert refused(lambda: s3.head_bucket(Bucket=name))[0] == 404
    create(Bucket=name, ACL="private", **enforced)
    try:
        not_supported = (400, "AccessControlListNotSupported")
        put = s3.put_object
        for canned in ("public-read", "authenticated-read", "private"):
            written = refused(lambda acl=canned: put(Bucket=name, Key="k", Body=b"x", ACL=acl))
            assert written == not_supported, canned
        assert refused(lambda: s3.head_object(Bucket=name, Key="k"))[0] == 404
        put(Bucket=name, Key="k", Body=b"x", ACL="bucket-owner-full-control")
        put(Bucket=name, Key="plain", Body=b"y")
        source = {"Bucket": name, "Key": "k"}
        copy = s3.copy_object
        create_upload = s3.create_multipart_upload
        for call in (
            lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read"),
            lambda: s3.put_object_acl(Bucket=name, Key="k", ACL="public-read"),
            lambda: copy(Bucket=name, Key="c", CopySource=source, ACL="public-read"),
            lambda: create_upload(Bucket=name, Key="m", ACL="public-read"),
        ):
            assert refused(call) == not_supported
        assert refused(lambda: s3.head_object(Bucket=name, Key="c"))[0] == 404
        assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)
        policy = s3.get_bucket_acl(Bucket=name)
        assert [grant["Permission"] for grant in policy["Grants"]] == ["FULL_CONTROL"]
        owner_only = {"Owner": policy["Owner"], "Grants": policy["Grants"]}
        s3.put_bucket_acl(Bucket=name, AccessControlPolicy=owner_only)  # the owner's alone
        anonymous = send("GET", object_url(proxy.endpoint, name, "k"), {"Host": proxy.host})
        assert anonymous.status == 403
    finally:
        for key in ("k", "plain"):
            s3.delete_object(Bucket=name, Key=key)
        s3.delete_bucket(Bucket=name)


def test_unversioned_writes_and_deletes_answer_no_version(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_versioning_bucket_atomic_upload_return_version_id and
    test_versioning_bucket_multipart_upload_return_version_id (their never-versioned halves),
    test_delete_marker_nonversioned, test_upload_part_copy_percent_encoded_key: in a bucket
    that was never versioned PutObject and CompleteMultipartUpload answer no VersionId, a
    DeleteObject no x-amz-delete-marker or x-amz-version-id, and UploadPartCopy finds a source
    whose key needs percent-encoding in x-amz-copy-source."""
    s3 = proxy.client("alice")
    bucket = make_bucket()
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    source = "dir one/a%2Fb+c?d"
    s3.put_object(Bucket=bucket, Key=source, Body=b"0123456789")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    part = s3.upload_part_copy(
        Bucket=bucket,
        Key="copied",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": source},
        CopySourceRange="bytes=2-7",
    )
    parts = [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="copied", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert "VersionId" not in done
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == b"234567"
    for key in ("plain", "never-written"):
        headers = s3.delete_object(Bucket=bucket, Key=key)["ResponseMetadata"]["HTTPHeaders"]
        assert not {"x-amz-delete-marker", "x-amz-version-id"} & set(headers), key


def test_a_presigned_put_with_an_acl_sets_it(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """test_object_presigned_put_object_with_acl: a PUT URL presigned with x-amz-acl
    public-read, sent with that header (signed), stores the object readable anonymously; the
    same URL sent without the header is refused (403: the signature covers it)."""
    s3 = proxy.client("alice")
    bucket = make_bucket()
    params = {"Bucket": bucket, "Key": "shared", "ACL": "public-read"}
    url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=300)
    host = {"Host": proxy.host}
    assert send("PUT", url, host, b"no acl header").status == 403
    assert send("PUT", url, {**host, "x-amz-acl": "public-read"}, b"public").status == 200
    anonymous = send("GET", object_url(proxy.endpoint, bucket, "shared"), host)
    assert (anonymous.status, anonymous.body) == (200, b"public")
