"""What another tenant may not do with an object whose own ACL alone grants it READ (wave 16 B).

S3 maps an ACL's READ on an object to s3:GetObject alone: GetObjectAcl needs READ_ACP (which no
grant here can give: a READ_ACP grant is 501), tags, attributes, writes and deletes need more,
so S3 answers all of them 403 AccessDenied. The gateway answered NoSuchBucket, as for a bucket
bob cannot see at all, though bob had just read the object from that very bucket. Now that key
answers S3's 403; bob learns nothing from it that his GET did not tell him. Every other key of
the bucket, granted nothing, still answers exactly as a bucket that never existed."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


def answer(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def calls(s3: Any, bucket: str, key: str) -> dict[str, Callable[[], Any]]:
    """Every operation on ``key`` that an object's READ grant does not cover."""
    tags = {"TagSet": [{"Key": "t", "Value": "bob"}]}
    return {
        "GetObjectAcl": lambda: s3.get_object_acl(Bucket=bucket, Key=key),
        "GetObjectTagging": lambda: s3.get_object_tagging(Bucket=bucket, Key=key),
        "GetObjectAttributes": lambda: s3.get_object_attributes(
            Bucket=bucket, Key=key, ObjectAttributes=["ETag", "ObjectSize"]
        ),
        "PutObjectAcl": lambda: s3.put_object_acl(Bucket=bucket, Key=key, ACL="private"),
        "PutObjectTagging": lambda: s3.put_object_tagging(Bucket=bucket, Key=key, Tagging=tags),
        "PutObject": lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"bob's"),
        "DeleteObject": lambda: s3.delete_object(Bucket=bucket, Key=key),
        "CreateMultipartUpload": lambda: s3.create_multipart_upload(Bucket=bucket, Key=key),
    }


def test_what_an_objects_own_grant_does_not_cover_is_access_denied(proxy: Proxy) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    name, never = (f"w16b-{os.urandom(5).hex()}" for _ in range(2))
    alice.create_bucket(Bucket=name)
    public = {"ACL": "public-read", "Tagging": "t=1"}
    alice.put_object(Bucket=name, Key="pub", Body=b"alice's public", **public)
    alice.put_object(Bucket=name, Key="k", Body=b"alice's private")
    try:
        assert bob.get_object(Bucket=name, Key="pub")["Body"].read() == b"alice's public"
        for operation, call in calls(bob, name, "pub").items():
            assert answer(call) == (403, "AccessDenied"), operation
        for key in ("k", "absent"):  # granted nothing: as a bucket that never existed
            theirs, absent = calls(bob, name, key), calls(bob, never, key)
            for operation, call in theirs.items():
                got = answer(call)
                assert got == answer(absent[operation]) == (404, "NoSuchBucket"), (key, operation)
        assert alice.get_object(Bucket=name, Key="pub")["Body"].read() == b"alice's public"
        assert alice.get_object_tagging(Bucket=name, Key="pub")["TagSet"] == [
            {"Key": "t", "Value": "1"}
        ]
        grants = alice.get_object_acl(Bucket=name, Key="pub")["Grants"]
        assert sorted(g["Permission"] for g in grants) == ["FULL_CONTROL", "READ"]
        assert alice.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
        keys = [o["Key"] for o in alice.list_objects_v2(Bucket=name)["Contents"]]
        assert keys == ["k", "pub"]
    finally:
        for key in ("k", "pub"):
            alice.delete_object(Bucket=name, Key=key)
        alice.delete_bucket(Bucket=name)
