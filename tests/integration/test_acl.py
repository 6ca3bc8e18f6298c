"""Canned ACLs on every lane (s3proxy.acl): Put/Get BucketAcl and ObjectAcl rendered with the
tenant's owner id; grants and AccessControlPolicy bodies accepted only where they say what a
canned ACL says (AuthenticatedUsers READ included); public-read-write refused on objects
(nothing stored). public-read on objects, multipart uploads' included:
tests/integration/test_anonymous.py; what authenticated-read grants other tenants:
tests/integration/test_authenticated_read.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def owner_of(s3: Any) -> dict[str, str]:
    owner = s3.list_buckets()["Owner"]
    return {"ID": owner["ID"], "DisplayName": owner["DisplayName"]}


def grants_of(answer: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = set()
    for grant in answer["Grants"]:
        grantee = grant["Grantee"]
        value = grantee.get("ID") or grantee.get("URI") or ""
        found.add((grantee["Type"], value, grant["Permission"]))
    return found


def canned(owner: dict[str, str], acl: str) -> set[tuple[str, str, str]]:
    grants = {("CanonicalUser", owner["ID"], "FULL_CONTROL")}
    if acl in ("public-read", "public-read-write"):
        grants.add(("Group", ALL_USERS, "READ"))
    if acl == "public-read-write":
        grants.add(("Group", ALL_USERS, "WRITE"))
    if acl == "authenticated-read":
        grants.add(("Group", AUTHENTICATED, "READ"))
    return grants


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    name = "acl-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def test_bucket_acl_starts_private_with_the_tenants_owner(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    answer = s3.get_bucket_acl(Bucket=bucket)
    assert answer["Owner"] == owner
    assert grants_of(answer) == canned(owner, "private")
    assert answer["Grants"][0]["Grantee"]["DisplayName"] == "alice"


@pytest.mark.parametrize(
    "acl", ["public-read", "public-read-write", "authenticated-read", "private"]
)
def test_put_bucket_acl_canned(proxy: Proxy, bucket: str, acl: str) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    s3.put_bucket_acl(Bucket=bucket, ACL=acl)
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, acl)
    s3.put_bucket_acl(Bucket=bucket, ACL="private")


def test_bucket_acl_keeps_cors_and_tags(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    tags = [{"Key": "team", "Value": "web"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.delete_bucket_tagging(Bucket=bucket)
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner_of(s3), "public-read")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags


def test_grant_headers_that_say_a_canned_acl(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    s3.put_bucket_acl(
        Bucket=bucket, GrantFullControl=f'id="{owner["ID"]}"', GrantRead=f'uri="{ALL_USERS}"'
    )
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, "public-read")
    s3.put_bucket_acl(Bucket=bucket, GrantFullControl=f'id="{owner["ID"]}"')
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, "private")


def test_access_control_policy_bodies(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    me = {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}
    everyone = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [me, everyone]})
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, "public-read")
    signed = {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ"}
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [signed, me]})
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, "authenticated-read")
    # What s3cmd and the console send back: the document GetBucketAcl gave.
    current = s3.get_bucket_acl(Bucket=bucket)
    policy = {"Owner": current["Owner"], "Grants": current["Grants"][:1]}
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=policy)
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, "private")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"ACL": "aws-exec-read"}, (501, "NotImplemented")),
        ({"GrantRead": 'id="123456789012"'}, (501, "NotImplemented")),
        ({"GrantRead": f'uri="{AUTHENTICATED}"'}, (501, "NotImplemented")),  # no owner grant
        ({"GrantRead": 'emailAddress="a@example.com"'}, (405, "MethodNotAllowed")),
        ({"GrantWrite": f'uri="{ALL_USERS}"'}, (501, "NotImplemented")),  # no owner grant
        ({"GrantRead": "nonsense"}, (400, "InvalidArgument")),
        ({"ACL": "public-read", "GrantRead": f'uri="{ALL_USERS}"'}, (400, "InvalidRequest")),
        ({"ACL": "nonsense"}, (400, "InvalidArgument")),
        ({"ACL": "log-delivery-write"}, (501, "NotImplemented")),
    ],
    ids=[
        "aws-exec-read",
        "other-account",
        "authenticated-users-only",
        "email",
        "all-users-only",
        "bad-grant",
        "both",
        "unknown",
        "log-delivery",
    ],
)
def test_bucket_acls_not_carried_out_are_refused(
    proxy: Proxy, bucket: str, arguments: dict[str, str], expected: tuple[int, str]
) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_acl(Bucket=bucket, **arguments)
    assert code_of(refused) == expected
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, "private")


def test_policy_naming_another_grantee_or_owner_is_refused(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    me = {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}
    stranger = {"Grantee": {"Type": "CanonicalUser", "ID": "1" * 12}, "Permission": "READ"}
    with pytest.raises(ClientError) as other_grantee:
        s3.put_bucket_acl(
            Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [me, stranger]}
        )
    assert code_of(other_grantee) == (501, "NotImplemented")
    with pytest.raises(ClientError) as other_owner:
        s3.put_bucket_acl(
            Bucket=bucket, AccessControlPolicy={"Owner": {"ID": "1" * 12}, "Grants": [me]}
        )
    assert code_of(other_owner) == (403, "AccessDenied")


def test_missing_bucket(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    for call in (
        lambda: s3.get_bucket_acl(Bucket="no-such-acl-bucket"),
        lambda: s3.put_bucket_acl(Bucket="no-such-acl-bucket", ACL="private"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert code_of(missing) == (404, "NoSuchBucket")


def test_create_bucket_with_a_public_acl(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    name = "acl-new-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name, ACL="public-read")
    try:
        assert grants_of(s3.get_bucket_acl(Bucket=name)) == canned(owner_of(s3), "public-read")
    finally:
        s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as refused:
        s3.create_bucket(Bucket=name, ACL="aws-exec-read")
    assert code_of(refused) == (501, "NotImplemented")
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_object_acl_is_private(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-read")
    answer = s3.get_object_acl(Bucket=bucket, Key="k")
    assert answer["Owner"] == owner
    assert grants_of(answer) == canned(owner, "private")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    s3.put_object_acl(Bucket=bucket, Key="k", GrantFullControl=f'id="{owner["ID"]}"')
    with pytest.raises(ClientError) as public:
        s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read-write")
    assert code_of(public) == (501, "NotImplemented")
    for call in (
        lambda: s3.get_object_acl(Bucket=bucket, Key="missing"),
        lambda: s3.put_object_acl(Bucket=bucket, Key="missing", ACL="private"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert code_of(missing) == (404, "NoSuchKey")


def test_object_public_read_is_shown_until_the_object_changes(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == canned(owner, "public-read")
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == canned(owner, "private")
    s3.put_object(Bucket=bucket, Key="k", Body=b"y")  # an overwrite resets the ACL, as on S3
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == canned(owner, "private")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == canned(owner, "public-read")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == canned(owner, "private")
    s3.copy_object(
        Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"}, ACL="public-read"
    )
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="c")) == canned(owner, "public-read")


@pytest.mark.parametrize("acl", ["public-read-write", "aws-exec-read"])
def test_public_object_acls_are_refused_and_nothing_is_stored(
    proxy: Proxy, bucket: str, acl: str
) -> None:
    """Not carried out: public-read-write and aws-exec-read on objects, multipart uploads
    included (public-read is: test_anonymous.py; authenticated-read: below)."""
    s3 = proxy.client("alice")
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    calls = {
        "put": lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", ACL=acl),
        "copy": lambda: s3.copy_object(
            Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "src"}, ACL=acl
        ),
        "multipart": lambda: s3.create_multipart_upload(Bucket=bucket, Key="new", ACL=acl),
    }
    for call in calls.values():
        with pytest.raises(ClientError) as refused:
            call()
        assert code_of(refused) == (501, "NotImplemented")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["src"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_grant_headers_and_create_bucket_with_authenticated_read(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    name = "acl-new-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name, ACL="authenticated-read")
    try:
        assert grants_of(s3.get_bucket_acl(Bucket=name)) == canned(owner, "authenticated-read")
        s3.put_bucket_acl(Bucket=name, ACL="private")
        s3.put_bucket_acl(
            Bucket=name, GrantFullControl=f'id="{owner["ID"]}"', GrantRead=f'uri="{AUTHENTICATED}"'
        )
        assert grants_of(s3.get_bucket_acl(Bucket=name)) == canned(owner, "authenticated-read")
    finally:
        s3.delete_bucket(Bucket=name)


def test_object_authenticated_read_wherever_objects_are_made(proxy: Proxy, bucket: str) -> None:
    """PutObject, CopyObject, PutObjectAcl (canned, grant headers, body) and multipart uploads
    (kept with the upload, bound at Complete); shown until the object changes, as public-read."""
    s3 = proxy.client("alice")
    owner = owner_of(s3)
    signed = canned(owner, "authenticated-read")

    def shown(key: str) -> set[tuple[str, str, str]]:
        return grants_of(s3.get_object_acl(Bucket=bucket, Key=key))

    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="authenticated-read")
    assert shown("k") == signed
    s3.copy_object(
        Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"}, ACL="authenticated-read"
    )
    assert shown("c") == signed
    s3.copy_object(Bucket=bucket, Key="c2", CopySource={"Bucket": bucket, "Key": "k"})
    assert shown("c2") == canned(owner, "private")  # a copy's own ACL, never the source's
    s3.put_object(Bucket=bucket, Key="k", Body=b"y")
    assert shown("k") == canned(owner, "private")
    s3.put_object_acl(
        Bucket=bucket,
        Key="k",
        GrantFullControl=f'id="{owner["ID"]}"',
        GrantRead=f'uri="{AUTHENTICATED}"',
    )
    assert shown("k") == signed
    me = {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}
    s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={"Owner": owner, "Grants": [me]})
    assert shown("k") == canned(owner, "private")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", ACL="authenticated-read")
    part = s3.upload_part(
        Bucket=bucket, Key="m", UploadId=upload["UploadId"], PartNumber=1, Body=b"part"
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="m",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert shown("m") == signed
