"""Access across tenants and anonymous access (wave 12 I), on every lane: what a bucket's
earlier life, another tenant or an anonymous caller could reach that S3 would not give them."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, send

pytestmark = pytest.mark.integration


def test_a_bucket_created_again_does_not_inherit_its_old_public_object_acls(proxy: Proxy) -> None:
    """An object ACL record is bound to the object's ETag and Last-Modified (whole seconds).
    A bucket deleted and created again starts without settings, so nothing removed the old
    records: the same bytes written to the same key within the same second as the old public
    object were served anonymously, and GetObjectAcl showed AllUsers READ, though the new
    object was written private. DeleteBucket now removes the bucket's records. The steps are
    repeated until both writes fall in one second (the condition of the leak)."""
    alice = proxy.client("alice")
    name = "w12i-again-" + os.urandom(4).hex()
    for _ in range(6):
        alice.create_bucket(Bucket=name)
        alice.put_object(Bucket=name, Key="k", Body=b"same bytes", ACL="public-read")
        first = alice.head_object(Bucket=name, Key="k")["LastModified"]
        alice.delete_object(Bucket=name, Key="k")
        alice.delete_bucket(Bucket=name)
        alice.create_bucket(Bucket=name)
        alice.put_object(Bucket=name, Key="k", Body=b"same bytes")
        try:
            if alice.head_object(Bucket=name, Key="k")["LastModified"] != first:
                continue  # another second: the old record could not have matched anyway
            anonymous = send("GET", object_url(proxy.endpoint, name, "k"), {"Host": proxy.host})
            assert anonymous.status == 403, anonymous.body  # was 200 b"same bytes"
            assert anonymous.error_code == "AccessDenied"
            grants = alice.get_object_acl(Bucket=name, Key="k")["Grants"]
            assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
            return
        finally:
            alice.delete_object(Bucket=name, Key="k")
            alice.delete_bucket(Bucket=name)
    pytest.fail("no two writes fell within one second in six tries")
