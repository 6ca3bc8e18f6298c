"""Object Lock and ownership controls answered as S3 answers them for what a bucket here holds
(s3proxy.handlers.lock_ownership). Before wave 12 J every one of these sub-resources was 501,
where S3 answers a bucket created without Object Lock exactly (s3-tests'
test_object_lock_*_invalid_bucket) and keeps ownership controls as a bucket setting."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3tests import MakeBucket, bucket_factory

pytestmark = pytest.mark.integration

ENFORCED = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def refused(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as excinfo:
        call()
    response = excinfo.value.response
    error = response["Error"]
    status = int(response["ResponseMetadata"]["HTTPStatusCode"])
    return status, str(error["Code"]), str(error.get("Message", ""))


@pytest.mark.one_lane  # decided by the bucket's existence alone: no lane's record is read
def test_a_bucket_without_object_lock_answers_as_s3(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """test_object_lock_put_obj_lock_invalid_bucket (409 InvalidBucketState),
    _get_obj_lock_invalid_bucket (404 ObjectLockConfigurationNotFoundError),
    _put_obj_retention_invalid_bucket, _get_obj_retention_invalid_bucket,
    _put_legal_hold_invalid_bucket, _get_legal_hold_invalid_bucket (400 InvalidRequest "Bucket
    is missing Object Lock Configuration", judged before the key: a missing key gets it too);
    NoSuchBucket first. Every one was 501; each refusal leaves the object as it was."""
    s3, bucket = proxy.client("alice"), make_bucket(["k"])
    before = s3.head_object(Bucket=bucket, Key="k")
    until = datetime.now(UTC) + timedelta(days=1)
    default = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    lock = {"ObjectLockEnabled": "Enabled", "Rule": default}
    assert refused(lambda: s3.get_object_lock_configuration(Bucket=bucket)) == (
        404,
        "ObjectLockConfigurationNotFoundError",
        "Object Lock configuration does not exist for this bucket",
    )
    put_lock = refused(
        lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=lock)
    )
    assert put_lock[:2] == (409, "InvalidBucketState")
    assert "Versioning must be 'Enabled'" in put_lock[2]
    missing = "Bucket is missing Object Lock Configuration"
    retention = {"Mode": "GOVERNANCE", "RetainUntilDate": until}
    object_calls: list[tuple[str, dict[str, Any]]] = [
        ("get_object_retention", {}),
        ("put_object_retention", {"Retention": retention, "BypassGovernanceRetention": True}),
        ("get_object_legal_hold", {}),
        ("put_object_legal_hold", {"LegalHold": {"Status": "ON"}}),
    ]
    for key in ("k", "no-such-key"):
        for name, params in object_calls:
            call = getattr(s3, name)
            assert refused(lambda: call(Bucket=bucket, Key=key, **params)) == (  # noqa: B023
                400,
                "InvalidRequest",
                missing,
            ), (name, key)
    after = s3.head_object(Bucket=bucket, Key="k")
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    s3.delete_object(Bucket=bucket, Key="k")  # nothing holds it
    gone = f"{bucket}-gone"
    for call in (
        lambda: s3.get_object_lock_configuration(Bucket=gone),
        lambda: s3.put_object_lock_configuration(Bucket=gone, ObjectLockConfiguration=lock),
        lambda: s3.get_object_legal_hold(Bucket=gone, Key="k"),
        lambda: s3.get_object_retention(Bucket=gone, Key="k"),
    ):
        assert refused(call)[:2] == (404, "NoSuchBucket")


def test_ownership_controls_are_the_bucket_record(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """GetBucketOwnershipControls answers what the settings record holds: BucketOwnerEnforced
    for a bucket created with it, else 404 OwnershipControlsNotFoundError (ACLs enabled).
    PutBucketOwnershipControls BucketOwnerEnforced disables ACLs as CreateBucket's header does
    (a public-read write is then 400 AccessControlListNotSupported), and is refused with 400
    InvalidBucketAclWithObjectOwnership on a bucket whose ACL grants others, as on S3;
    DeleteBucketOwnershipControls enables them again (204). ObjectWriter and
    BucketOwnerPreferred stay 501. Every refusal leaves the record as it was. All were 501."""
    s3 = proxy.client("alice")
    created = f"s3t-{os.urandom(6).hex()}"
    s3.create_bucket(Bucket=created, ObjectOwnership="BucketOwnerEnforced")
    try:
        got = s3.get_bucket_ownership_controls(Bucket=created)["OwnershipControls"]
        assert got == ENFORCED
    finally:
        s3.delete_bucket(Bucket=created)

    bucket = make_bucket(["k"])
    not_found = refused(lambda: s3.get_bucket_ownership_controls(Bucket=bucket))
    assert not_found[:2] == (404, "OwnershipControlsNotFoundError")
    writer = {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    put = s3.put_bucket_ownership_controls
    assert refused(lambda: put(Bucket=bucket, OwnershipControls=writer))[:2] == (
        501,
        "NotImplemented",
    )
    put(Bucket=bucket, OwnershipControls=ENFORCED)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == ENFORCED
    public = refused(lambda: s3.put_object(Bucket=bucket, Key="p", Body=b"x", ACL="public-read"))
    assert public[:2] == (400, "AccessControlListNotSupported")
    assert (
        s3.delete_bucket_ownership_controls(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    assert refused(lambda: s3.get_bucket_ownership_controls(Bucket=bucket))[1] == (
        "OwnershipControlsNotFoundError"
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")  # ACLs enabled again
    granting = refused(lambda: put(Bucket=bucket, OwnershipControls=ENFORCED))
    assert granting[:2] == (400, "InvalidBucketAclWithObjectOwnership")
    assert refused(lambda: s3.get_bucket_ownership_controls(Bucket=bucket))[1] == (
        "OwnershipControlsNotFoundError"
    )
