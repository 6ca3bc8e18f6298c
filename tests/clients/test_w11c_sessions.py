"""Real clients, round 4 (wave 11): the options users pass, and what they then see.

Probed here: ``aws s3`` cp/sync/mv/rb/presign with the content, metadata, storage-class, ACL,
checksum (all five algorithms, small and multipart) and conditional options; ``aws s3api``
ranges, ``--if-*``, tagging, ``--expected-bucket-owner``, ``--request-payer``; s3cmd sync,
``--preserve``, modify, setacl, info, du, signurl (SigV2 and V4), multipart/listmp/abortmp and
the bucket settings it refuses; rclone sync/check/copyto/lsf/hashsum/touch/purge with the
multipart, metadata, presigned-request, directory-marker and storage-class flags; boto3's
presigned multipart uploads and response overrides. On the local store, SeaweedFS and Ceph RGW.

Found and fixed: a bucket's CreationDate, as ``aws s3 ls`` shows it, moved to the time of its
latest settings write (``s3cmd setacl``, CORS, tagging, even their removal): the date was the
LastModified of the bucket's marker, which every settings write rewrites
(s3proxy/backends/bucket_settings.py now keeps the first date in the record).

Runs on the local store and SeaweedFS over HTTP (the fix is the proxy's own records, the same
code on every upstream; Ceph RGW is skipped to keep CI short).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest

from conformance.sessions.awscli import AwsCli
from conformance.sessions.s3cmd import S3cmd
from tests.clients.conftest import RunningProxy
from tests.clients.lane import Lane, lane_on

pytestmark = [pytest.mark.clients, pytest.mark.integration]

HTTP_ONLY = "command-line checks run over HTTP; TLS is covered by the sessions"


@pytest.fixture(scope="module")
def lane(client_proxy: RunningProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    if client_proxy.upstream == "ceph":
        pytest.skip("the proxy's own bucket records: proved on the local store and SeaweedFS")
    with lane_on(client_proxy, tmp_path_factory, "w11c") as made:
        yield made


def _listed_dates(aws: AwsCli) -> dict[str, str]:
    """bucket → its date and time as ``aws s3 ls`` prints them ("2026-12-04 21:26:56 name")."""
    listed = aws.run("s3", "ls")
    assert listed.exit_code == 0, listed.output
    dates: dict[str, str] = {}
    for line in listed.output.splitlines():
        day, clock, name = line.split(maxsplit=2)
        dates[name] = f"{day} {clock}"
    return dates


def test_bucket_creation_date_survives_settings_writes(lane: Lane) -> None:
    """``s3cmd setacl --acl-public`` of a bucket, its CORS and tags set and removed again, a
    second later than its creation: ``aws s3 ls`` and ListBuckets still show when it was
    created. Before, each of these writes moved the date to its own time."""
    aws = cast(AwsCli, lane.driver("awscli-v1", http_only=HTTP_ONLY))
    s3cmd = cast(S3cmd, lane.driver("s3cmd-v4", http_only=HTTP_ONLY))
    s3 = lane.s3
    bucket = f"{lane.bucket}-dates"
    started = time.monotonic()
    s3.create_bucket(Bucket=bucket)
    try:
        created = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}[bucket]
        # Dates have one-second steps: the writes below must come in a later second to show.
        time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
        made = s3cmd.run("setacl", "--acl-public", f"s3://{bucket}")
        assert made.exit_code == 0, made.output
        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]},
        )
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "w"}]})
        s3.delete_bucket_cors(Bucket=bucket)
        s3.put_bucket_acl(Bucket=bucket, ACL="private")
        after = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}
        assert after[bucket] == created
        shown = _listed_dates(aws)
        expected = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created.timestamp()))
        assert shown[bucket] == expected, shown
        assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "w"}]
    finally:
        s3.delete_bucket_tagging(Bucket=bucket)
        s3.delete_bucket(Bucket=bucket)
