"""A public bucket's name cannot be taken from its anonymous readers by another tenant (wave 13
C, s3proxy.name_claims), on every lane: the record's times are kept as every other settings
member is, on SeaweedFS, Ceph RGW and the local store alike.

Before, a name two tenants had was served to nobody, so bob creating a bucket of the name of
alice's public one made it 403 for every anonymous reader (tests/integration/test_anonymous.py
covers a private squatter); now the bucket public longest keeps the name."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, send

pytestmark = pytest.mark.integration


def _read(proxy: Proxy, bucket: str) -> tuple[int, bytes]:
    answer = send("GET", object_url(proxy.endpoint, bucket, "k"), {"Host": proxy.host}, b"")
    return answer.status, answer.body


def test_the_bucket_public_longest_keeps_its_name(proxy: Proxy) -> None:
    name = "w13c-claim-" + os.urandom(4).hex()
    alice, bob = proxy.client("alice"), proxy.client("bob")
    try:
        for who, client in (("alice", alice), ("bob", bob)):
            client.create_bucket(Bucket=name, ACL="public-read")
            client.put_object(Bucket=name, Key="k", Body=who.encode())
        assert _read(proxy, name) == (200, b"alice")  # bob's was made public later
        alice.put_bucket_acl(Bucket=name, ACL="private")
        assert _read(proxy, name) == (200, b"bob")  # the one public bucket of that name
        alice.put_bucket_acl(Bucket=name, ACL="public-read")
        assert _read(proxy, name) == (200, b"bob")  # now alice's is the later one
        bob.put_bucket_acl(Bucket=name, ACL="private")
        assert _read(proxy, name) == (200, b"alice")
    finally:
        for client in (alice, bob):
            client.delete_object(Bucket=name, Key="k")
            client.delete_bucket(Bucket=name)


@pytest.mark.one_lane
def test_an_anonymous_copy_into_a_public_read_write_bucket_is_not_implemented(
    proxy: Proxy,
) -> None:
    """S3 carries it out (WRITE grants everyone s3:PutObject); the gateway does not: 501, where
    it answered 403 as if S3 forbade it. A plain anonymous PUT still lands."""
    name = "w13c-rw-" + os.urandom(4).hex()
    alice = proxy.client("alice")
    alice.create_bucket(Bucket=name, ACL="public-read-write")
    try:
        alice.put_object(Bucket=name, Key="k", Body=b"source")
        headers = {"Host": proxy.host, "x-amz-copy-source": f"/{name}/k"}
        copied = send("PUT", object_url(proxy.endpoint, name, "copy"), headers, b"")
        assert (copied.status, copied.error_code) == (501, "NotImplemented")
        put = send("PUT", object_url(proxy.endpoint, name, "plain"), {"Host": proxy.host}, b"p")
        assert put.status == 200
        keys = [o["Key"] for o in alice.list_objects_v2(Bucket=name)["Contents"]]
        assert keys == ["k", "plain"]
    finally:
        for key in ("k", "plain"):
            alice.delete_object(Bucket=name, Key=key)
        alice.delete_bucket(Bucket=name)
