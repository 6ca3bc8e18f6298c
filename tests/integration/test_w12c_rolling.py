"""A rolling upgrade (wave 12, C): a replica of the previous release and one of this tree side by
side over one upstream, as during a rolling restart behind a load balancer. What one writes
(bucket markers and settings records, upload records and marks, object ACL records, kept
storage classes) the other reads as written, and no write by one destroys what the other
stored.

The previous release is commit :data:`PREVIOUS` of this repository, unpacked with ``git
archive`` (no checkout touched) and run from there with this interpreter (its dependencies are
the same); where the history is not at hand (a shallow clone) the file is skipped.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tarfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    Proxy,
    create_buckets,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
)
from tests.support.processes import ProxyProcess, free_port, write_config

pytestmark = pytest.mark.integration

PREVIOUS = "2ddbd43"
REPO = Path(__file__).resolve().parents[2]
UPSTREAMS = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
LANES = [
    lane
    for lane in os.environ.get("S3PROXY_W12C_LANES", "seaweedfs").split(",")
    if not os.environ.get("S3PROXY_TEST_BACKENDS")
    or lane in os.environ["S3PROXY_TEST_BACKENDS"].split(",")
]
"""SeaweedFS in CI; Ceph RGW 16 answered the same when this was written
(``S3PROXY_W12C_LANES=seaweedfs,ceph``): what is checked here is the gateway's own records."""


def _previous_tree(where: Path) -> Path:
    archive = where / "previous.tar"
    try:
        with archive.open("wb") as out:
            subprocess.run(
                ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS, "s3proxy"],
                stdout=out,
                stderr=subprocess.PIPE,
                check=True,
                timeout=60,
            )
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"the previous release {PREVIOUS} is not in this clone: {error}")
    tree = where / "previous"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _start_previous(server: Any, upstream: Any, workdir: Path, tree: Path) -> Proxy:
    port, admin_port = free_port(), free_port()
    config = write_config(
        workdir / "s3proxy.yaml", proxy_settings(server, port, admin_port, workdir)
    )
    process = ProxyProcess.start(
        config, admin_port=admin_port, log_path=workdir / "proxy.log", cwd=tree
    )
    running = Proxy(process, port, admin_port, config, upstream, server)
    try:
        create_buckets(running)
    except BaseException:
        process.stop()
        raise
    return running


@pytest.fixture(scope="module", params=LANES)
def old_and_new(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Proxy]]:
    server, upstream = (request.getfixturevalue(name) for name in UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    tree = _previous_tree(tmp_path_factory.mktemp("w12c-previous"))
    old = _start_previous(server, upstream, tmp_path_factory.mktemp("w12c-old"), tree)
    try:
        new = start_proxy(server, upstream, tmp_path_factory.mktemp("w12c-new"))
        try:
            yield old, new
        finally:
            new.process.stop()
    finally:
        old.process.stop()


def _bucket(purpose: str) -> str:
    return f"w12c-{purpose}-{uuid.uuid4().hex[:8]}"


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _anonymous_get(proxy: Proxy, bucket: str, key: str) -> int:
    try:
        with urllib.request.urlopen(f"{proxy.endpoint}/{bucket}/{key}", timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


CORS = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://a.example"]}]}


@pytest.mark.parametrize("order", ["old-then-new", "new-then-old"])
def test_bucket_settings_written_by_one_are_read_by_the_other(
    old_and_new: tuple[Proxy, Proxy], order: str
) -> None:
    first, second = old_and_new if order == "old-then-new" else old_and_new[::-1]
    one, two = first.client("alice"), second.client("alice")
    bucket = _bucket("settings")
    one.create_bucket(Bucket=bucket)
    created = {b["Name"]: b["CreationDate"] for b in two.list_buckets()["Buckets"]}[bucket]
    two.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    one.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    two.put_bucket_acl(Bucket=bucket, ACL="public-read")
    for client in (one, two):
        assert client.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]
        assert client.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedOrigins"] == [
            "https://a.example"
        ]
    one.delete_bucket_tagging(Bucket=bucket)
    two.delete_bucket_cors(Bucket=bucket)
    one.put_bucket_acl(Bucket=bucket, ACL="private")
    for client in (one, two):
        with pytest.raises(ClientError) as raised:
            client.get_bucket_tagging(Bucket=bucket)
        assert _code(raised) == "NoSuchTagSet"
        with pytest.raises(ClientError) as raised:
            client.get_bucket_cors(Bucket=bucket)
        assert _code(raised) == "NoSuchCORSConfiguration"
    assert _anonymous_get(first, bucket, "") == 403
    if order == "old-then-new":
        # The first rewrite, by the new replica, kept the creation date, and the old one's
        # rewrites carried it on (a member it does not know): ListBuckets on the new one shows
        # it. (The other way round the old replica's first rewrite dates the bucket anew.)
        listed = old_and_new[1].client("alice").list_buckets()["Buckets"]
        assert {b["Name"]: b["CreationDate"] for b in listed}[bucket] == created
    one.delete_bucket(Bucket=bucket)
    assert bucket not in {b["Name"] for b in two.list_buckets()["Buckets"]}


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.parametrize("order", ["old-then-new", "new-then-old"])
def test_an_upload_begun_on_one_is_finished_on_the_other(
    old_and_new: tuple[Proxy, Proxy], order: str
) -> None:
    """Create (checksum, tags, a kept storage class, a public ACL) on one replica, parts on
    both, ListParts and Complete on the other: the object has all of it, seen from both."""
    first, second = old_and_new if order == "old-then-new" else old_and_new[::-1]
    one, two = first.client("alice"), second.client("alice")
    key = f"w12c-upload-{uuid.uuid4().hex[:8]}"
    created = one.create_multipart_upload(
        Bucket="docs",
        Key=key,
        ChecksumAlgorithm="SHA256",
        Tagging="t=1",
        StorageClass="STANDARD_IA",
        ACL="public-read",
    )
    upload = created["UploadId"]
    body1, body2 = b"a" * (5 * 1024 * 1024), b"b" * 1024
    part1 = two.upload_part(
        Bucket="docs", Key=key, UploadId=upload, PartNumber=1, Body=body1,
        ChecksumSHA256=_sha256(body1),
    )  # fmt: skip
    part2 = one.upload_part(
        Bucket="docs", Key=key, UploadId=upload, PartNumber=2, Body=body2,
        ChecksumSHA256=_sha256(body2),
    )  # fmt: skip
    listed = two.list_parts(Bucket="docs", Key=key, UploadId=upload)
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == [_sha256(body1), _sha256(body2)]
    assert listed["StorageClass"] == "STANDARD_IA"
    uploads = one.list_multipart_uploads(Bucket="docs", Prefix=key)["Uploads"]
    assert [(u["UploadId"], u["StorageClass"]) for u in uploads] == [(upload, "STANDARD_IA")]
    two.complete_multipart_upload(
        Bucket="docs",
        Key=key,
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part1["ETag"], "ChecksumSHA256": _sha256(body1)},
                {"PartNumber": 2, "ETag": part2["ETag"], "ChecksumSHA256": _sha256(body2)},
            ]
        },
    )
    for proxy, client in ((first, one), (second, two)):
        head = client.head_object(Bucket="docs", Key=key)
        assert head["ContentLength"] == len(body1) + len(body2)
        assert head.get("StorageClass") == "STANDARD_IA"
        assert client.get_object_tagging(Bucket="docs", Key=key)["TagSet"] == [
            {"Key": "t", "Value": "1"}
        ]
        assert _anonymous_get(proxy, "docs", key) == 200
    # An overwrite through the one makes it private and STANDARD for both.
    one.put_object(Bucket="docs", Key=key, Body=b"plain")
    for proxy, client in ((first, one), (second, two)):
        assert _anonymous_get(proxy, "docs", key) == 403
        assert "StorageClass" not in client.head_object(Bucket="docs", Key=key)
    one.delete_object(Bucket="docs", Key=key)


def test_a_ghost_left_by_the_old_replica_is_cleared_by_the_new(
    old_and_new: tuple[Proxy, Proxy],
) -> None:
    """The old replica answers late writes into a deleted bucket 200 (it has no re-check): the
    new replica's CreateBucket of the name still starts empty. The tombstone the new replica's
    DeleteBucket leaves (wave 12 C2) is no bucket to the old one's ListBuckets."""
    old, new = (replica.client("alice") for replica in old_and_new)
    bucket = _bucket("ghost")
    new.create_bucket(Bucket=bucket)
    old.head_bucket(Bucket=bucket)
    new.delete_bucket(Bucket=bucket)
    listed = [entry["Name"] for entry in old.list_buckets()["Buckets"]]
    assert bucket not in listed
    assert not [name for name in listed if not name[0].isalnum()]
    old.put_object(Bucket=bucket, Key="late", Body=b"late")
    new.create_bucket(Bucket=bucket)
    assert new.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    new.delete_bucket(Bucket=bucket)


def test_the_upstream_names_both_write_are_the_same(old_and_new: tuple[Proxy, Proxy]) -> None:
    """The layout contract: an object written by either is where the other looks for it."""
    old, new = (replica.client("alice") for replica in old_and_new)
    key = f"w12c-both/{uuid.uuid4().hex[:8]}/ünï cøde+%.txt"
    old.put_object(Bucket="docs", Key=key, Body=b"old")
    assert new.get_object(Bucket="docs", Key=key)["Body"].read() == b"old"
    new.put_object(Bucket="docs", Key=key, Body=b"new")
    assert old.get_object(Bucket="docs", Key=key)["Body"].read() == b"new"
    assert [o["Key"] for o in old.list_objects_v2(Bucket="docs", Prefix=key)["Contents"]] == [key]
    new.delete_object(Bucket="docs", Key=key)
    assert old.list_objects_v2(Bucket="docs", Prefix=key).get("KeyCount") == 0


def test_a_listing_begun_on_one_continues_on_the_other(old_and_new: tuple[Proxy, Proxy]) -> None:
    old, new = (replica.client("alice") for replica in old_and_new)
    prefix = f"w12c-pages/{uuid.uuid4().hex[:8]}/"
    keys = [f"{prefix}{n}" for n in range(3)]
    for key in keys:
        old.put_object(Bucket="docs", Key=key, Body=b"")
    seen: list[str] = []
    token: dict[str, str] = {}
    for client in (old, new, old):
        page = client.list_objects_v2(Bucket="docs", Prefix=prefix, MaxKeys=1, **token)
        seen += [entry["Key"] for entry in page["Contents"]]
        token = {"ContinuationToken": page.get("NextContinuationToken", "")}
    assert seen == keys
    new.delete_objects(Bucket="docs", Delete={"Objects": [{"Key": key} for key in keys]})


def test_a_bucket_the_old_replica_makes_public_takes_no_older_grants_name(
    old_and_new: tuple[Proxy, Proxy],
) -> None:
    """Wave 14 C: bob's bucket, created (and tagged, so its record keeps ``created``) before
    alice's bucket of the same name was made public, made public later through the previous
    release (which writes no ``public_since`` and keeps ``created``): it counted from its
    creation date and took the name, serving bob's bytes to alice's anonymous readers. It
    counts from its record's Last-Modified now."""
    old, new = old_and_new
    bucket = _bucket("claims")
    bob = new.client("bob")
    bob.create_bucket(Bucket=bucket)
    bob.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    bob.put_object(Bucket=bucket, Key="k", Body=b"bob's")
    alice = new.client("alice")
    alice.create_bucket(Bucket=bucket, ACL="public-read")
    alice.put_object(Bucket=bucket, Key="k", Body=b"alice's")
    try:
        old.client("bob").put_bucket_acl(Bucket=bucket, ACL="public-read")
        with urllib.request.urlopen(f"{new.endpoint}/{bucket}/k", timeout=30) as answer:
            assert answer.read() == b"alice's"
    finally:
        for client in (alice, bob):
            client.put_bucket_acl(Bucket=bucket, ACL="private")
            client.delete_object(Bucket=bucket, Key="k")
            client.delete_bucket(Bucket=bucket)
