"""A quota tenant's overwrites and copies onto one key through two replicas count what they
replaced (wave 15 A2, A3), on SeaweedFS (which checks a PUT's and a server-side copy's
``If-Match`` / ``If-None-Match``), and its Completes and aborts of one upload free its parts once.

Before, each replica HEADed the key and sent its PUT or copy unbound to it: small overwrites or
copies onto a large object through both replicas at once each counted the large object
replaced, and /usage fell below what is stored by its size for every write that raced (a tenant
repeating it could store past its quota). Each PUT now goes bound to what its HEAD read, and one
that meets another replica's object is answered 503 SlowDown (S3's retryable answer) and counts
nothing; a copy, having no body to lose, is sent again after new HEADs (503 SlowDown should the
target keep changing).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w14f2_workers import AT_ONCE, ROUNDS, replicas, settled
from tests.integration.test_w14f_usage_probe import client_of, stored

pytestmark = pytest.mark.integration
__all__ = ["replicas"]  # the fixture: two single-process gateways on one SeaweedFS
UPLOADS = 6


def race_onto_x(clients: list[Any], bucket: str, write: Callable[[int], object]) -> None:
    """ROUNDS times: a 5,000-byte "x" written through the first replica, then AT_ONCE
    ``write(index)`` at once (index even: first replica, odd: second); each one refused must be
    503 SlowDown (another replica's write came between its HEAD and its own)."""
    refused: list[str] = []

    def one(index: int) -> None:
        try:
            write(index)
        except ClientError as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            refused.append(error.response["Error"]["Code"])

    with ThreadPoolExecutor(AT_ONCE) as pool:
        for _ in range(ROUNDS):
            clients[0].put_object(Bucket=bucket, Key="x", Body=b"x" * 5000)
            list(pool.map(one, range(AT_ONCE)))
    assert set(refused) <= {"SlowDown"}


def test_overwrites_of_one_object_through_two_replicas_count_what_they_replaced(
    replicas: tuple[Proxy, Proxy],
) -> None:
    clients = [client_of(proxy) for proxy in replicas]
    bucket = f"w15a2-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)

    def overwrite(index: int) -> None:
        clients[index % 2].put_object(Bucket=bucket, Key="x", Body=b"s" * (10 + index))

    try:
        race_onto_x(clients, bucket, overwrite)
        truth = stored(clients[0])
        assert truth[0] == 1 and truth[1] < 100
        assert settled(replicas[0], truth) == truth
    finally:
        clients[0].delete_object(Bucket=bucket, Key="x")
        clients[0].delete_bucket(Bucket=bucket)


def test_aborts_and_completes_of_one_upload_through_two_replicas_free_its_parts_once(
    replicas: tuple[Proxy, Proxy],
) -> None:
    """SeaweedFS answers 204 to an abort of an upload already aborted or completed, so two
    aborts of one upload (or an abort and a Complete) through two replicas, both reading the
    parts before either ended the upload, each freed them. Each now claims the upload first
    (README "Quotas"; the interleaving itself is forced in tests/unit/test_w15a2_upload_claims:
    through real replicas it is rare, 0 of 42 pairs on 2093c4e): here the claims on a real
    SeaweedFS (written under If-None-Match, waited for, removed) keep every answer S3's and
    usage what is stored."""
    clients = [client_of(proxy) for proxy in replicas]
    bucket = f"w15a2-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)
    calls = []
    for number in range(UPLOADS):
        key = f"u{number}"
        upload = clients[0].create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etag = clients[1].upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p" * 1000
        )["ETag"]
        parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
        calls.append({"Bucket": bucket, "Key": key, "UploadId": upload, "MultipartUpload": parts})

    def end(index: int) -> None:
        """Each upload aborted through each replica; every third one completed through one."""
        call = dict(calls[index // 2])
        try:
            if index % 6 == 1:
                clients[1].complete_multipart_upload(**call)
            else:
                del call["MultipartUpload"]
                clients[index % 2].abort_multipart_upload(**call)
        except ClientError as error:  # the other one ended it first
            assert error.response["Error"]["Code"] == "NoSuchUpload"

    try:
        with ThreadPoolExecutor(2 * UPLOADS) as pool:
            list(pool.map(end, range(2 * UPLOADS)))
        clients[0].put_object(Bucket=bucket, Key="left", Body=b"y" * 10)
        truth = stored(clients[0])
        assert truth[2] == 0
        assert settled(replicas[0], truth) == truth
    finally:
        for entry in clients[0].list_objects_v2(Bucket=bucket).get("Contents", []):
            clients[0].delete_object(Bucket=bucket, Key=entry["Key"])
        clients[0].delete_bucket(Bucket=bucket)


def test_copies_onto_one_object_through_two_replicas_count_what_they_replaced(
    replicas: tuple[Proxy, Proxy],
) -> None:
    clients = [client_of(proxy) for proxy in replicas]
    bucket = f"w15a3-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)
    for index in range(AT_ONCE):
        clients[0].put_object(Bucket=bucket, Key=f"s{index}", Body=b"s" * (10 + index))

    def copy(index: int) -> None:  # refused only if the target kept changing
        source = {"Bucket": bucket, "Key": f"s{index}"}
        clients[index % 2].copy_object(Bucket=bucket, Key="x", CopySource=source)

    try:
        race_onto_x(clients, bucket, copy)
        truth = stored(clients[0])
        assert truth[0] == AT_ONCE + 1 and truth[1] < 200
        assert settled(replicas[0], truth) == truth
    finally:
        for entry in clients[0].list_objects_v2(Bucket=bucket).get("Contents", []):
            clients[0].delete_object(Bucket=bucket, Key=entry["Key"])
        clients[0].delete_bucket(Bucket=bucket)
