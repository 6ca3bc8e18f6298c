"""What CreateBucket clears under a bucket's root, and what it adopts (wave 12, C2).

The layout is a contract operators migrate data by (README "The upstream layout"): objects
placed under a root by it, then the bucket created through the gateway, are that bucket's.
Only what was written after a DeleteBucket of the gateway's own (its tombstone under
``.buckets/.deleted/``) goes when the name is created again: a late write of another replica,
played here by a direct upstream PUT. The two-replica version of the ghost is
test_w12c_replicas.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import HOME_BUCKET, Proxy, upstream_key

pytestmark = [pytest.mark.integration, pytest.mark.upstream_layout]


def _bucket(purpose: str) -> str:
    return f"w12c2-{purpose}-{uuid.uuid4().hex[:8]}"


def _keys(client: Any, bucket: str) -> list[str]:
    return [entry["Key"] for entry in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _upstream_has(proxy: Proxy, key: str) -> bool:
    try:
        proxy.upstream.head_object(Bucket=HOME_BUCKET, Key=key)
    except ClientError as error:
        assert error.response["Error"]["Code"] in ("404", "NoSuchKey")
        return False
    return True


def test_objects_placed_by_the_layout_are_the_created_buckets(proxy: Proxy) -> None:
    client = proxy.client("alice")
    bucket = _bucket("placed")
    placed = {"migrated/one.txt": b"one", "two": b"two"}
    client.put_object(Bucket="docs", Key="w12c2-first-use", Body=b"")  # the home's encoding:
    client.delete_object(Bucket="docs", Key="w12c2-first-use")  # recorded, as in a deployment
    for key, body in placed.items():
        proxy.upstream.put_object(
            Bucket=HOME_BUCKET, Key=upstream_key("alice", bucket, key), Body=body
        )
    client.create_bucket(Bucket=bucket)
    assert sorted(_keys(client, bucket)) == sorted(placed)
    for key, body in placed.items():
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in placed]})
    client.delete_bucket(Bucket=bucket)


def test_what_lands_after_a_delete_goes_when_the_name_is_created_again(proxy: Proxy) -> None:
    client = proxy.client("alice")
    bucket = _bucket("tomb")
    tombstone = f"alice/.buckets/.deleted/{bucket}"
    client.create_bucket(Bucket=bucket)
    client.delete_bucket(Bucket=bucket)
    assert _upstream_has(proxy, tombstone)
    names = [entry["Name"] for entry in client.list_buckets()["Buckets"]]
    assert bucket not in names
    assert not [name for name in names if name.startswith(".")]
    late = upstream_key("alice", bucket, "late")  # another replica's write, after the delete
    proxy.upstream.put_object(Bucket=HOME_BUCKET, Key=late, Body=b"late")
    client.create_bucket(Bucket=bucket)
    assert _keys(client, bucket) == []
    assert not _upstream_has(proxy, late)
    assert not _upstream_has(proxy, tombstone)
    client.put_object(Bucket=bucket, Key="kept", Body=b"kept")  # the new bucket's own
    assert _keys(client, bucket) == ["kept"]
    client.delete_object(Bucket=bucket, Key="kept")
    client.delete_bucket(Bucket=bucket)
