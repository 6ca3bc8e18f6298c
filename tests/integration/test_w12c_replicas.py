"""Replicas over one upstream (wave 12, C): what a client of one replica sees of what a client of
another did. Two ``serve`` processes with their own configuration files and the same upstream
and ``server.secret``, as README "Behind a load balancer" runs them; the bucket cache lifetime
is an hour, so that a replica's cached "this bucket exists" outlives the test.

- A bucket deleted through one replica and written through the other (PUT, CopyObject, a
  multipart upload completed) before the other's cache noticed: created again, the bucket is
  empty, as a new bucket is on S3 (README "The upstream layout").
- A write that lands more than ``RECHECK_SECONDS`` after its replica last saw the bucket
  upstream asks again: into a bucket deleted through the other replica it is NoSuchBucket,
  with nothing left upstream (the waits of this file, a second each); so is the Complete of
  an upload created within that second and completed after it (wave 12, C2).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from s3proxy.backends.bucket_race import RECHECK_SECONDS
from tests.integration.conftest import HOME_BUCKET, Proxy, create_upstream_buckets, start_proxy

pytestmark = pytest.mark.integration

UPSTREAMS = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
LANES = [
    lane
    for lane in os.environ.get("S3PROXY_W12C_LANES", "seaweedfs").split(",")
    if not os.environ.get("S3PROXY_TEST_BACKENDS")
    or lane in os.environ["S3PROXY_TEST_BACKENDS"].split(",")
]
"""SeaweedFS in CI; Ceph RGW 16 answered the same when this was written
(``S3PROXY_W12C_LANES=seaweedfs,ceph``): what is checked here is the gateway's own records."""
CACHE_SECONDS = 3600


@pytest.fixture(scope="module", params=LANES)
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Proxy]]:
    server, upstream = (request.getfixturevalue(name) for name in UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    started: list[Proxy] = []
    try:
        for name in ("one", "two"):
            workdir = tmp_path_factory.mktemp(f"w12c-{request.param}-{name}")
            started.append(
                start_proxy(
                    server,
                    upstream,
                    workdir,
                    # One worker: a request that a client's new connection takes to a worker
                    # that never cached the bucket would see it gone at once.
                    server={"bucket_cache_seconds": CACHE_SECONDS, "workers": 1},
                )
            )
        yield started[0], started[1]
    finally:
        for running in started:
            running.process.stop()


def _new_bucket(purpose: str) -> str:
    return f"w12c-{purpose}-{uuid.uuid4().hex[:8]}"


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def _keys(client: Any, bucket: str) -> list[str]:
    return [entry["Key"] for entry in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _late_writes(two: Any, bucket: str) -> None:
    """Writes through the replica that still believes in the deleted bucket: each is either
    refused (NoSuchBucket) or lands under the bucket's root upstream."""
    writes = [
        lambda: two.put_object(Bucket=bucket, Key="put", Body=b"late"),
        lambda: two.copy_object(
            Bucket=bucket, Key="copied", CopySource={"Bucket": "docs", "Key": "w12c-source"}
        ),
    ]
    for write in writes:
        try:
            write()
        except ClientError as error:
            assert _code(error) == "NoSuchBucket"
    try:
        upload = two.create_multipart_upload(Bucket=bucket, Key="completed")["UploadId"]
    except ClientError as error:
        assert _code(error) == "NoSuchBucket"
        return
    part = two.upload_part(Bucket=bucket, Key="completed", UploadId=upload, PartNumber=1, Body=b"p")
    try:
        two.complete_multipart_upload(
            Bucket=bucket,
            Key="completed",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    except ClientError as error:
        assert _code(error) in ("NoSuchBucket", "NoSuchUpload")


def test_a_bucket_created_again_is_empty(replicas: tuple[Proxy, Proxy]) -> None:
    one, two = (replica.client("alice") for replica in replicas)
    one.put_object(Bucket="docs", Key="w12c-source", Body=b"source")
    bucket = _new_bucket("ghost")
    one.create_bucket(Bucket=bucket)
    two.head_bucket(Bucket=bucket)  # the second replica now trusts it for an hour
    one.delete_bucket(Bucket=bucket)
    _late_writes(two, bucket)
    one.create_bucket(Bucket=bucket)
    assert _keys(one, bucket) == []
    assert _keys(two, bucket) == []
    assert one.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    one.delete_bucket(Bucket=bucket)


def test_a_late_write_through_another_replica_is_no_such_bucket(
    replicas: tuple[Proxy, Proxy],
) -> None:
    one, two = (replica.client("alice") for replica in replicas)
    bucket = _new_bucket("late")
    one.create_bucket(Bucket=bucket)
    two.head_bucket(Bucket=bucket)
    one.delete_bucket(Bucket=bucket)
    time.sleep(RECHECK_SECONDS + 0.1)  # the second replica's answer is older than that now
    with pytest.raises(ClientError) as raised:
        two.put_object(Bucket=bucket, Key="late", Body=b"late")
    assert _code(raised.value) == "NoSuchBucket"
    with pytest.raises(ClientError) as raised:  # and it knows from then on
        two.put_object(Bucket=bucket, Key="later", Body=b"later")
    assert _code(raised.value) == "NoSuchBucket"
    upstream = replicas[0].upstream
    listed = upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=f"alice/{bucket}/")
    assert listed.get("Contents", []) == []


def test_an_upload_completed_late_into_a_bucket_deleted_elsewhere_is_no_such_bucket(
    replicas: tuple[Proxy, Proxy],
) -> None:
    """Created within the second (answered 200, as any write there is), completed after it:
    the Complete asks again, like a PutObject, and leaves no object behind."""
    one, two = (replica.client("alice") for replica in replicas)
    bucket = _new_bucket("complete")
    one.create_bucket(Bucket=bucket)
    two.head_bucket(Bucket=bucket)
    one.delete_bucket(Bucket=bucket)
    upload = two.create_multipart_upload(Bucket=bucket, Key="late")["UploadId"]
    part = two.upload_part(Bucket=bucket, Key="late", UploadId=upload, PartNumber=1, Body=b"p")
    time.sleep(RECHECK_SECONDS + 0.1)
    with pytest.raises(ClientError) as raised:
        two.complete_multipart_upload(
            Bucket=bucket,
            Key="late",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    assert _code(raised.value) == "NoSuchBucket"
    upstream = replicas[0].upstream
    listed = upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=f"alice/{bucket}/")
    assert listed.get("Contents", []) == []
