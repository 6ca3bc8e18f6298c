"""CopyObject's destination conditions (``If-Match``, ``If-None-Match: *``), as S3 takes them
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html; botocore's IfMatch and
IfNoneMatch members): a failed one is 412 and copies nothing; ``If-Match`` on a key with no
object is 404 NoSuchKey, as for PutObject.

Before: Ceph RGW 16 ignored both on a server-side copy and the proxy answered 200 with the
destination replaced; SeaweedFS 4.48 answered 412 for If-Match on a missing key."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"
STALE = '"0123456789abcdef0123456789abcdef"'


def failure(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


def test_a_failed_copy_destination_condition_copies_nothing(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    base = "copy-conditions/" + os.urandom(4).hex()
    source, target, missing = base + "/source", base + "/target", base + "/missing"
    s3.put_object(Bucket=BUCKET, Key=source, Body=b"new contents")
    old = s3.put_object(Bucket=BUCKET, Key=target, Body=b"old")["ETag"]
    copy = {"Bucket": BUCKET, "Key": target, "CopySource": f"{BUCKET}/{source}"}
    try:
        assert failure(s3.copy_object, **copy, IfNoneMatch="*") == (412, "PreconditionFailed")
        assert failure(s3.copy_object, **copy, IfMatch=STALE) == (412, "PreconditionFailed")
        assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == b"old"
        to_missing = {**copy, "Key": missing}
        assert failure(s3.copy_object, **to_missing, IfMatch=old) == (404, "NoSuchKey")
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix=missing)["KeyCount"] == 0
        s3.copy_object(**to_missing, IfNoneMatch="*")
        assert s3.get_object(Bucket=BUCKET, Key=missing)["Body"].read() == b"new contents"
    finally:
        s3.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in (source, target, missing)]}
        )


def test_a_copy_under_a_matching_if_match_replaces_the_object(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    base = "copy-conditions/" + os.urandom(4).hex()
    source, target = base + "/source", base + "/target"
    s3.put_object(Bucket=BUCKET, Key=source, Body=b"new contents")
    old = s3.put_object(Bucket=BUCKET, Key=target, Body=b"old")["ETag"]
    try:
        s3.copy_object(Bucket=BUCKET, Key=target, CopySource=f"{BUCKET}/{source}", IfMatch=old)
        assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == b"new contents"
    finally:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": source}, {"Key": target}]})
