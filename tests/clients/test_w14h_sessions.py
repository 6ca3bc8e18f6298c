"""Real clients at the edges, round 5 (wave 14 H): the options users pass, and what is stored.

Probed by hand on the local store, SeaweedFS and Ceph RGW, with the versions a fresh install
gets (aws-cli 1.46 from PyPI and Debian's 2.9, s3cmd 2.4, rclone 1.75, boto3 1.44.18): ``aws
s3 sync`` with ``--delete``, ``--exact-timestamps``, ``--size-only``, ``--exclude``, S3 to S3;
``aws s3 cp`` with every ``--storage-class``, ``--acl``, ``--grants``, ``--sse``/``--sse-c``,
``--expires``, ``--website-redirect``, ``--checksum-algorithm``, ``--no-guess-mime-type``,
``--request-payer``, and S3-to-S3 copies (``--metadata-directive``, ``--copy-props``, small and
multipart); ``aws s3api`` with ExpectedBucketOwner, ChecksumMode, RequestPayer, ``versionId``
on an unversioned bucket, ``--if-none-match``/``--if-match``, partNumber, GetObjectAttributes;
rclone ``copy``/``sync``/``check`` with ``--checksum``, ``--s3-no-head``,
``--s3-use-multipart-etag``, ``--s3-upload-cutoff 0``, server-side ``copyto``/``moveto`` across
buckets, ``--s3-versions``, ``settier``, ``backend set``, metadata, storage class, ACL and SSE
flags; s3cmd ``sync --preserve``, ``setacl``, ``modify --add-header/--remove-header``,
``info``, ``du``, ``expire``, ``setlifecycle``, ``signurl``, ``multipart``, ``mv``, ``cp``.
Each was carried out exactly (the stored result read back) or refused with S3's error.

Found and fixed:

- Ceph RGW lists milliseconds (``…:38.584Z``) where its HEAD and GET say ``…:38``; S3 writes
  whole seconds in both. ``aws s3 sync --exact-timestamps`` sets a downloaded file's mtime to
  the whole second and compares it with the listing's time, so on the Ceph lane it downloaded
  every file again on every run (aws-cli issue 5369 is this Ceph case). SeaweedFS answers a
  copy with its own milliseconds (``…:31.598Z``), a second HEAD later rounds away. Every XML
  time the gateway writes now has S3's whole seconds (s3proxy/timestamps.py).

The client check runs over HTTP on Ceph RGW, the lane whose listings had milliseconds;
tests/integration/test_w11m_timestamps.py checks every document's times on every lane (a copy
on SeaweedFS too), and TLS is the client-facing leg the sessions cover.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import cast

import pytest

from conformance.sessions.awscli import AwsCli
from conformance.sessions.rclone import Rclone
from tests.clients.conftest import RunningProxy
from tests.clients.lane import HTTP_ONLY, Lane, lane_on

pytestmark = [pytest.mark.clients, pytest.mark.integration]


@pytest.fixture(scope="module")
def lane(client_proxy: RunningProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    with lane_on(client_proxy, tmp_path_factory, "w14h", http_only=True) as made:
        yield made


def test_sync_exact_timestamps_downloads_only_what_changed(lane: Lane) -> None:
    """``aws s3 sync --exact-timestamps`` down, then again: nothing is downloaded the second
    time (the listing names the second HEAD and GET name); a copy's LastModified is that
    second too."""
    if lane.upstream != "ceph":
        pytest.skip("Ceph RGW's listing times: test_w11m_timestamps checks every lane's form")
    aws = cast(AwsCli, lane.driver("awscli-v1", http_only=HTTP_ONLY))
    for name in ("a.txt", "d/b.txt"):
        lane.s3.put_object(Bucket=lane.bucket, Key=f"ts/{name}", Body=name.encode())
    copied = lane.s3.copy_object(
        Bucket=lane.bucket, Key="ts/c.txt", CopySource={"Bucket": lane.bucket, "Key": "ts/a.txt"}
    )
    url, local = f"s3://{lane.bucket}/ts/", lane.work / "exact"
    first = aws.run("s3", "sync", "--exact-timestamps", url, str(local))
    assert first.exit_code == 0 and first.output.count("download:") == 3, first.output
    again = aws.run("s3", "sync", "--exact-timestamps", url, str(local))
    assert again.exit_code == 0 and "download:" not in again.output, again.output
    assert (local / "d/b.txt").read_bytes() == b"d/b.txt"
    head = lane.s3.head_object(Bucket=lane.bucket, Key="ts/c.txt")
    assert copied["CopyObjectResult"]["LastModified"] == head["LastModified"]


def test_rclone_restore_status_lists_nothing_being_restored(lane: Lane) -> None:
    """``rclone backend restore-status`` (a listing with ``x-amz-optional-object-attributes:
    RestoreStatus``) answers, with ``-o all`` the GLACIER-class object and no restore status:
    nothing here is ever restored. It was 501, and rclone failed."""
    if lane.upstream != "local":
        pytest.skip("the header policy answers before any upstream call")
    rclone = cast(Rclone, lane.driver("rclone-pypi", http_only=HTTP_ONLY))
    lane.s3.put_object(Bucket=lane.bucket, Key="rs/cold", Body=b"cold", StorageClass="GLACIER")
    remote = f"proxy:{lane.bucket}/rs"
    restoring = rclone.run("backend", "restore-status", remote)
    assert restoring.exit_code == 0 and json.loads(restoring.output) == [], restoring.output
    every = rclone.run("backend", "restore-status", "-o", "all", remote)
    assert every.exit_code == 0, every.output
    listed = json.loads(every.output)
    assert [(item["Remote"], item["StorageClass"]) for item in listed] == [("cold", "GLACIER")]
    assert all(item.get("RestoreStatus") is None for item in listed), listed
