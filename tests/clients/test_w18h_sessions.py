"""Real clients between two buckets (wave 18 H): moves, syncs that delete, tiers, refusals.

Probed by hand on the local store and SeaweedFS 4.48 with aws-cli 1.46, s3cmd 2.4, rclone 1.75:
``aws s3 sync --delete`` (up, and S3 to S3), ``--exact-timestamps``, ``aws s3 mv`` between
buckets (small, multipart, ``--recursive``, ``--checksum-algorithm``), ``s3api put-object
--checksum-algorithm CRC64NVME|SHA256|CRC32C|SHA1``, ``--if-none-match '*'``, ``get-object
--checksum-mode ENABLED`` of multipart objects (whole, ``--part-number``, ``--range``), ``s3cmd
sync --delete-removed`` (up, and S3 to S3), ``modify --add-header``, ``setacl``, ``info``,
``--server-side-encryption``, ``rclone copy --s3-upload-cutoff 0`` (an empty file too), ``check
--download``, ``move`` between buckets, ``settier``, ``--s3-use-multipart-etag``,
``--s3-versions`` and ``--s3-version-at``. Every 200 had done what it said (the stored result
read back, every checksum claimed recomputed from the bytes) and every refusal stored nothing.
No defect was found; these keep the moves and deletes between two buckets, which no other
client test makes, and the tier change, which was only probed before (wave 14).

Noticed and left alone: ``aws s3 sync`` uploads again a file written in the same second as its
upload, since S3's LastModified has whole seconds (AWS's own behaviour, s3proxy/timestamps.py);
s3cmd retries a 501 five times with growing waits (45 s) before it names the refusal.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import cast

import pytest

from conformance.sessions.awscli import AwsCli
from conformance.sessions.rclone import Rclone
from conformance.sessions.s3cmd import S3cmd
from tests.clients.conftest import RunningProxy
from tests.clients.lane import HTTP_ONLY, Lane, lane_on
from tests.clients.test_client_checksums import _checksums, composite

pytestmark = [pytest.mark.clients, pytest.mark.integration]

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def lane(client_proxy: RunningProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    with lane_on(client_proxy, tmp_path_factory, "w18h", http_only=True) as made:
        yield made


@pytest.fixture(scope="module")
def other(lane: Lane) -> Iterator[str]:
    """A second bucket of the lane's tenant, emptied and deleted on the way out."""
    bucket = f"{lane.bucket}-to"
    lane.s3.create_bucket(Bucket=bucket)
    yield bucket
    pages = lane.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    for item in (item for page in pages for item in page.get("Contents", [])):
        lane.s3.delete_object(Bucket=bucket, Key=item["Key"])
    lane.s3.delete_bucket(Bucket=bucket)


def _keys(lane: Lane, bucket: str, prefix: str) -> list[str]:
    pages = lane.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _body(lane: Lane, bucket: str, key: str) -> bytes:
    return cast(bytes, lane.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_aws_mv_between_buckets_moves_the_bytes_and_a_true_checksum(lane: Lane, other: str) -> None:
    """``aws s3 mv`` to another bucket: a small file, a multipart object (copied part by part,
    with ``--checksum-algorithm SHA256``) and a ``--recursive`` tree. The sources are gone,
    the destinations hold the bytes, and a checksum HEAD claims is the bytes' own (COMPOSITE
    over aws-cli's 5 MiB parts); Ceph RGW 16 keeps none, so there the claim may be absent."""
    aws = cast(AwsCli, lane.driver("awscli-v1", http_only=HTTP_ONLY))
    aws.set_multipart(5)
    data = os.urandom(11 * MiB + 5)
    lane.s3.put_object(Bucket=lane.bucket, Key="mv/small", Body=b"small\n")
    lane.s3.upload_fileobj(
        io.BytesIO(data), lane.bucket, "mv/big", ExtraArgs={"ChecksumAlgorithm": "CRC64NVME"}
    )
    for name in ("a", "d/b"):
        lane.s3.put_object(Bucket=lane.bucket, Key=f"mvr/{name}", Body=name.encode())
    src, dst = f"s3://{lane.bucket}", f"s3://{other}"
    moved = aws.run("s3", "mv", f"{src}/mv/small", f"{dst}/moved/small")
    assert moved.exit_code == 0, moved.output
    moved = aws.run(
        "s3", "mv", "--checksum-algorithm", "SHA256", f"{src}/mv/big", f"{dst}/moved/big"
    )
    assert moved.exit_code == 0, moved.output
    moved = aws.run("s3", "mv", "--recursive", f"{src}/mvr/", f"{dst}/mvr/")
    assert moved.exit_code == 0, moved.output

    assert _keys(lane, lane.bucket, "mv") == []
    assert _keys(lane, other, "") == ["moved/big", "moved/small", "mvr/a", "mvr/d/b"]
    assert _body(lane, other, "moved/small") == b"small\n"
    assert _body(lane, other, "mvr/d/b") == b"d/b"
    assert _body(lane, other, "moved/big") == data
    head = lane.s3.head_object(Bucket=other, Key="moved/big", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"'), head
    parts = [data[: 5 * MiB], data[5 * MiB : 10 * MiB], data[10 * MiB :]]
    claimed = _checksums(head)
    if lane.upstream != "ceph" or claimed:
        assert claimed == {"ChecksumSHA256": composite("SHA256", parts)}, head


def test_aws_sync_delete_between_buckets(lane: Lane, other: str) -> None:
    """``aws s3 sync --delete`` from one bucket to another copies what is missing (a multipart
    object and an empty one) and deletes what the source does not have; a second run does
    nothing."""
    aws = cast(AwsCli, lane.driver("awscli-v1", http_only=HTTP_ONLY))
    aws.set_multipart(5)
    data = os.urandom(6 * MiB + 1)
    big = lane.work / "sync-big.bin"
    big.write_bytes(data)
    assert (up := aws.run("s3", "cp", str(big), f"s3://{lane.bucket}/ss/big")).exit_code == 0, (
        up.output
    )
    lane.s3.put_object(Bucket=lane.bucket, Key="ss/empty", Body=b"")
    lane.s3.put_object(Bucket=other, Key="ss/extra", Body=b"only at the destination")
    url, to = f"s3://{lane.bucket}/ss/", f"s3://{other}/ss/"
    synced = aws.run("s3", "sync", "--delete", url, to)
    assert synced.exit_code == 0, synced.output
    assert _keys(lane, other, "ss/") == ["ss/big", "ss/empty"]
    assert _body(lane, other, "ss/big") == data and _body(lane, other, "ss/empty") == b""
    again = aws.run("s3", "sync", "--delete", url, to)
    assert again.exit_code == 0 and again.output.strip() == "", again.output


def test_rclone_move_between_buckets_and_settier(lane: Lane, other: str) -> None:
    """``rclone move`` to another bucket (a multipart file and a small one) leaves the source
    empty and ``rclone check --download`` finds the local tree in the destination; ``rclone
    settier`` (an AWS-provider option) rewrites the class in place and keeps the bytes."""
    rclone = cast(Rclone, lane.driver("rclone-pypi", http_only=HTTP_ONLY))
    tree = lane.work / "rclone-move"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"hello\n")
    (tree / "sub/b.bin").write_bytes(os.urandom(7 * MiB))
    up = rclone.run("copy", "--s3-upload-cutoff", "0", "--s3-chunk-size", "5M", str(tree),
                    f"proxy:{lane.bucket}/rm")  # fmt: skip
    assert up.exit_code == 0, up.output
    moved = rclone.run("move", f"proxy:{lane.bucket}/rm", f"proxy:{other}/rm")
    assert moved.exit_code == 0, moved.output
    assert _keys(lane, lane.bucket, "rm/") == []
    checked = rclone.run("check", "--download", str(tree), f"proxy:{other}/rm")
    assert checked.exit_code == 0 and "0 differences found" in checked.output, checked.output

    before = lane.s3.head_object(Bucket=other, Key="rm/sub/b.bin")
    tiered = rclone.run(
        "settier", "--s3-provider", "AWS", "STANDARD_IA", f"proxy:{other}/rm/sub/b.bin"
    )
    assert tiered.exit_code == 0, tiered.output
    after = lane.s3.head_object(Bucket=other, Key="rm/sub/b.bin")
    assert after.get("StorageClass") == "STANDARD_IA", after
    assert after["ContentLength"] == before["ContentLength"]
    assert _body(lane, other, "rm/sub/b.bin") == (tree / "sub/b.bin").read_bytes()
    classes = {
        item["Key"]: item.get("StorageClass")
        for item in lane.s3.list_objects_v2(Bucket=other, Prefix="rm/")["Contents"]
    }
    assert classes == {"rm/a.txt": "STANDARD", "rm/sub/b.bin": "STANDARD_IA"}, classes


def test_s3cmd_sync_between_buckets_and_modify_with_sse_refused(lane: Lane, other: str) -> None:
    """``s3cmd sync --delete-removed`` from one bucket to another copies and deletes server
    side; ``s3cmd modify --server-side-encryption`` (a copy onto itself) is refused with S3's
    NotImplemented and the object is left as it was."""
    s3cmd = cast(S3cmd, lane.driver("s3cmd-v4", http_only=HTTP_ONLY))
    for name in ("x", "y/z"):
        lane.s3.put_object(Bucket=lane.bucket, Key=f"sc/{name}", Body=name.encode())
    lane.s3.put_object(Bucket=other, Key="sc/stale", Body=b"stale")
    synced = s3cmd.run("sync", "--delete-removed", f"s3://{lane.bucket}/sc/", f"s3://{other}/sc/")
    assert synced.exit_code == 0, synced.output
    assert _keys(lane, other, "sc/") == ["sc/x", "sc/y/z"]
    assert _body(lane, other, "sc/y/z") == b"y/z"

    before = lane.s3.head_object(Bucket=other, Key="sc/x")
    refused = s3cmd.run(
        "modify", "--max-retries=0", "--server-side-encryption", f"s3://{other}/sc/x"
    )
    assert refused.exit_code != 0 and "NotImplemented" in refused.output, refused.output
    after = lane.s3.head_object(Bucket=other, Key="sc/x")
    assert "ServerSideEncryption" not in after, after
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    assert _body(lane, other, "sc/x") == b"x"
