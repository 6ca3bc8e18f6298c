"""A copy's tags from another tenant's source (wave 15 B), on every lane: S3 copies a source's
tags (``x-amz-tagging-directive: COPY``, the default) only for a caller allowed
s3:GetObjectTagging on it, and an ACL's READ grant, the bucket's or the object's own, maps to
s3:GetObject alone. The gateway copied them, so tenant B read tags of A's that B's own
GetObjectTagging is refused. Now such a copy of a tagged source is 403 AccessDenied, nothing
written; an untagged one is copied without tags, and ``REPLACE`` copies as before."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


@pytest.fixture()
def buckets(proxy: Proxy) -> Iterator[tuple[str, str]]:
    alices, bobs = "w15b-a-" + os.urandom(4).hex(), "w15b-b-" + os.urandom(4).hex()
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.create_bucket(Bucket=alices)
    bob.create_bucket(Bucket=bobs)
    yield alices, bobs
    for s3, name in ((alice, alices), (bob, bobs)):
        s3.put_bucket_acl(Bucket=name, ACL="private")
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize("granted_by", ["bucket", "object"])
def test_a_foreign_sources_tags_are_not_copied(
    proxy: Proxy, buckets: tuple[str, str], granted_by: str
) -> None:
    alices, bobs = buckets
    alice, bob = proxy.client("alice"), proxy.client("bob")
    acl = {"ACL": "public-read"} if granted_by == "object" else {}
    if granted_by == "bucket":
        alice.put_bucket_acl(Bucket=alices, ACL="authenticated-read")
    alice.put_object(Bucket=alices, Key="tagged", Body=b"t", Tagging="secret=v", **acl)
    alice.put_object(Bucket=alices, Key="plain", Body=b"p", **acl)
    tagged, plain = {"Bucket": alices, "Key": "tagged"}, {"Bucket": alices, "Key": "plain"}
    with pytest.raises(ClientError) as caught:
        bob.get_object_tagging(Bucket=alices, Key="tagged")  # bob may not read them...
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (403, 404)
    with pytest.raises(ClientError) as copied:  # ...nor copy them (they were copied)
        bob.copy_object(Bucket=bobs, Key="c", CopySource=tagged)
    response = copied.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (
        403,
        "AccessDenied",
    )
    assert "Contents" not in bob.list_objects_v2(Bucket=bobs)
    bob.copy_object(
        Bucket=bobs, Key="r", CopySource=tagged, TaggingDirective="REPLACE", Tagging="mine=1"
    )
    assert bob.get_object_tagging(Bucket=bobs, Key="r")["TagSet"] == [{"Key": "mine", "Value": "1"}]
    bob.copy_object(Bucket=bobs, Key="p", CopySource=plain)
    assert bob.get_object(Bucket=bobs, Key="p")["Body"].read() == b"p"
    assert bob.get_object_tagging(Bucket=bobs, Key="p")["TagSet"] == []
    alice.copy_object(Bucket=alices, Key="own", CopySource=tagged)  # the owner's: unchanged
    assert alice.get_object_tagging(Bucket=alices, Key="own")["TagSet"] == [
        {"Key": "secret", "Value": "v"}
    ]
