"""An upstream's answers to races never reach the client as 5xx (wave 10 F).

Ceph RGW 16 answers a GET racing an overwrite of its key with 500 UnknownError (ECANCELED),
and a CompleteMultipartUpload racing another Complete of the same upload with 500 "This
multipart completion is already in progress"; AWS answers the first with the old or the new
object and the second, once the first is done, 200 with the same ETag. And a Complete racing a
DeleteBucket's aborts, or any write that passed its bucket check before a DeleteBucket, could
leave an object or upload behind a bucket that was then deleted, counted and listed again if
the name comes back. Each race is
forced here, deterministically, by a relay in front of the real upstream
(tests/support/relay.py): it answers what the losing side of the race gets, or runs the other
side of the race at the exact moment, and the real upstream answers everything else.
(test_race_safety.py runs the same races freely, through the lane proxies.)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    HOME_BUCKET,
    Proxy,
)
from tests.integration.relayed import relayed_proxy, upstream_lanes
from tests.integration.test_quotas import usage
from tests.support.relay import Exchange, Relay

pytestmark = pytest.mark.integration

BUCKET = "relayed-races"


@pytest.fixture(scope="module", params=upstream_lanes())
def relayed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Relay, str]]:
    """(proxy, relay, alice's home prefix): a one-worker proxy whose upstream answers through a
    relay; alice's quota is what a lost race must not count."""
    with relayed_proxy(
        request, tmp_path_factory, "w10f", BUCKET, quota={"max_bytes": 100_000_000}
    ) as made:
        yield made


def failure(exchange: Exchange, code: str = "UnknownError", message: str = "") -> bytes:
    """Ceph RGW 16's 500 for ``exchange``, as it answers the side of a race that lost."""
    exchange.status, exchange.reason = 500, "Internal Server Error"
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    exchange.response_headers = [("Content-Type", "application/xml")]
    exchange.response_body = b"" if exchange.method == "HEAD" else body
    return exchange.raw(content_length=len(body) if exchange.method == "HEAD" else None)


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def seen(relay: Relay, method: str, key: str, query: str | None = None) -> int:
    return sum(
        1
        for x in relay.seen
        if x.method == method and x.path.endswith(key) and (query is None or query in x.query)
    )


def test_a_read_failed_by_a_racing_overwrite_is_asked_again(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """GET, ranged GET and HEAD whose first upstream answer is Ceph's 500 of a read racing an
    overwrite: the client gets the object (the upstream's second answer); a read failed twice
    is 503, after exactly two upstream requests."""
    proxy, relay, _ = relayed
    client = proxy.client("alice")
    body = os.urandom(100_000)
    client.put_object(Bucket=BUCKET, Key="readrace", Body=body)
    failed: set[tuple[str, str | None]] = set()

    def first_fails(exchange: Exchange) -> bytes | None:
        if not exchange.path.endswith("readrace"):
            return None
        what = (exchange.method, next((v for k, v in exchange.headers if k == "range"), None))
        if what in failed:
            return None
        failed.add(what)
        return failure(exchange)

    relay.seen.clear()
    relay.answer = first_fails
    try:
        assert client.get_object(Bucket=BUCKET, Key="readrace")["Body"].read() == body
        ranged = client.get_object(Bucket=BUCKET, Key="readrace", Range="bytes=10-19")
        assert ranged["Body"].read() == body[10:20]
        assert client.head_object(Bucket=BUCKET, Key="readrace")["ContentLength"] == len(body)
        assert len(failed) == 3
        relay.seen.clear()
        relay.answer = lambda x: failure(x) if x.path.endswith("readrace") else None
        with pytest.raises(ClientError) as raised:
            client.get_object(Bucket=BUCKET, Key="readrace")
        assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert seen(relay, "GET", "readrace") == 2
    finally:
        relay.clear()


def test_a_complete_that_lost_a_race_answers_as_the_one_that_won(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """The upstream Complete is answered 500 "already in progress" while the racing Complete
    runs (the upload still there: it is sent again), then 500 once more after that Complete
    has assembled the object (the relay forwards it, then answers 500: the upload is gone):
    the client's one Complete is 200 with the object's multipart ETag, the object is whole
    and no upload is left."""
    proxy, relay, _ = relayed
    client = proxy.client("alice")
    key = "completerace"
    parts = [os.urandom(30_000)]
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    listed = [
        {"PartNumber": n, "ETag": client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=part)["ETag"]}
        for n, part in enumerate(parts, start=1)
    ]  # fmt: skip
    attempts: list[str] = []
    busy = "This multipart completion is already in progress"

    def completes(exchange: Exchange) -> bool:
        """The client's Complete (not the probe of Complete conditions a quota tenant's first
        Complete makes: wave 15 A binds its Completes where the upstream checks them)."""
        return (
            exchange.method == "POST"
            and "uploadId" in exchange.query
            and exchange.path.endswith(key)
        )

    def racing(exchange: Exchange) -> bytes | None:
        if not completes(exchange):
            return None
        attempts.append(exchange.method)
        if len(attempts) == 1:  # the other Complete is still assembling the object
            return failure(exchange, "InternalError", busy)
        return None

    def won_meanwhile(exchange: Exchange) -> bytes | None:
        if completes(exchange) and len(attempts) == 2:
            return failure(exchange, "InternalError", busy)  # the other Complete finished it
        return None

    relay.answer, relay.rewrite = racing, won_meanwhile
    try:
        done = client.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": listed}
        )
    finally:
        relay.clear()
    assert attempts == ["POST", "POST"]  # the second completed it; then the upload was gone
    assert done["ETag"] == multipart_etag(parts)
    got = client.get_object(Bucket=BUCKET, Key=key)
    assert (got["ETag"], got["Body"].read()) == (multipart_etag(parts), b"".join(parts))
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_complete_racing_delete_bucket_keeps_the_bucket(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """DeleteBucket found only an upload in progress; while it aborts it, the client's
    Complete of that upload lands first (the abort then finds it gone). An object is in the
    bucket now: 409 BucketNotEmpty, the bucket and the object kept, as S3 orders the two.
    Bob has no quota: a quota tenant's Complete waits for an abort of its upload in flight
    through the same server (wave 14 F's upload gates), so there the two cannot cross."""
    proxy, relay, _ = relayed
    client = proxy.client("bob")
    bucket, key = "relayed-doomed", "last-minute"
    client.create_bucket(Bucket=bucket)
    body = os.urandom(20_000)
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=body)
    parts = [{"PartNumber": 1, "ETag": etag["ETag"]}]
    completed: list[Any] = []

    def complete_first(exchange: Exchange) -> bytes | None:
        if exchange.method == "DELETE" and "uploadId" in exchange.query and not completed:
            completed.append(
                client.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
                )
            )
        return None

    relay.answer = complete_first
    try:
        with pytest.raises(ClientError) as raised:
            client.delete_bucket(Bucket=bucket)
    finally:
        relay.clear()
    assert completed and completed[0]["ETag"] == multipart_etag([body])
    assert raised.value.response["Error"]["Code"] == "BucketNotEmpty"
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def under_root(proxy: Proxy, prefix: str, bucket: str) -> tuple[list[str], list[str]]:
    """(object keys, upload keys) the upstream holds under the bucket's root."""
    root = f"{prefix}{bucket}/"
    objects = proxy.upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=root).get("Contents", [])
    uploads = proxy.upstream.list_multipart_uploads(Bucket=HOME_BUCKET, Prefix=root)
    return [o["Key"] for o in objects], [u["Key"] for u in uploads.get("Uploads", [])]


@pytest.mark.parametrize("write", ["create_multipart_upload", "put_object", "copy_object"])
def test_a_write_that_lands_after_delete_bucket_is_no_such_bucket(
    relayed: tuple[Proxy, Relay, str], write: str
) -> None:
    """The write found the bucket, then DeleteBucket ran whole (204) before the write reached
    the upstream: the write is NoSuchBucket, nothing of it is left under the root, and the
    tenant's usage counts none of it."""
    proxy, relay, prefix = relayed
    client = proxy.client("alice")
    bucket, key = f"relayed-gone-{write.replace('_', '-')}", "latewrite"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=BUCKET, Key="copysource", Body=b"source")
    deleted: list[str] = []

    def delete_first(exchange: Exchange) -> bytes | None:
        if exchange.path.endswith(key) and exchange.method in ("PUT", "POST") and not deleted:
            deleted.append(
                str(client.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"])
            )
        return None

    arguments: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if write == "put_object":
        arguments["Body"] = b"late"
    if write == "copy_object":
        arguments["CopySource"] = {"Bucket": BUCKET, "Key": "copysource"}
    counted = usage(proxy)
    relay.answer = delete_first
    try:
        with pytest.raises(ClientError) as raised:
            getattr(client, write)(**arguments)
    finally:
        relay.clear()
    assert deleted == ["204"]
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert under_root(proxy, prefix, bucket) == ([], [])
    assert usage(proxy) == counted
    assert bucket not in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_an_object_written_while_delete_bucket_runs_keeps_the_bucket(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    """A PUT lands (200) after DeleteBucket found the bucket empty, just before its marker
    goes: DeleteBucket is 409 BucketNotEmpty, the bucket is back with its settings (tags),
    and the object is there."""
    proxy, relay, _ = relayed
    client = proxy.client("alice")
    bucket, key = "relayed-kept", "justintime"
    client.create_bucket(Bucket=bucket)
    tags = [{"Key": "team", "Value": "w10f"}]
    client.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    written: list[str] = []

    def write_first(exchange: Exchange) -> bytes | None:
        marker = exchange.method == "DELETE" and "uploadId" not in exchange.query
        if marker and exchange.path.endswith(bucket) and not written:
            written.append(client.put_object(Bucket=bucket, Key=key, Body=b"kept")["ETag"])
        return None

    relay.answer = write_first
    try:
        with pytest.raises(ClientError) as raised:
            client.delete_bucket(Bucket=bucket)
    finally:
        relay.clear()
    assert written
    assert raised.value.response["Error"]["Code"] == "BucketNotEmpty"
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert client.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"kept"
