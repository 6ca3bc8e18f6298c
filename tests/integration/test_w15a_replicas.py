"""A quota tenant's DeleteObjects of the same keys, and its Completes of one upload, through two
replicas count once (wave 15 A), on SeaweedFS (which honours ``<ETag>`` in DeleteObjects and a
Complete's ``If-None-Match`` / ``If-Match``).

Before, each replica HEADed the keys and sent one unconditional DeleteObjects: both were
answered Deleted for every key, both freed the sizes, and /usage fell below what is stored
(a tenant repeating it could store past its quota). Each entry now goes with the ETag its HEAD
read, and one the other replica deleted first is read again and frees nothing. Completes alike
(bound to what their HEAD read).
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from tests.integration.conftest import Proxy
from tests.integration.test_w14f2_workers import AT_ONCE, ROUNDS, replicas, settled
from tests.integration.test_w14f_usage_probe import client_of, stored

pytestmark = pytest.mark.integration
__all__ = ["replicas"]  # the fixture: two single-process gateways on one SeaweedFS

KEYS = [f"k{n}" for n in range(6)]


def test_delete_objects_of_the_same_keys_through_two_replicas_free_them_once(
    replicas: tuple[Proxy, Proxy],
) -> None:
    clients = [client_of(proxy) for proxy in replicas]
    bucket = f"w15a-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)
    batch = {"Objects": [{"Key": key} for key in KEYS]}

    def delete(index: int) -> None:
        result = clients[index % 2].delete_objects(Bucket=bucket, Delete=batch)
        assert not result.get("Errors")

    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            for _ in range(ROUNDS):
                for key in KEYS:
                    clients[1].put_object(Bucket=bucket, Key=key, Body=b"x" * 1000)
                list(pool.map(delete, range(AT_ONCE)))
        clients[0].put_object(Bucket=bucket, Key="left", Body=b"y" * 10)
        truth = stored(clients[0])
        assert truth == (1, 10, 0)
        assert settled(replicas[0], truth) == truth
    finally:
        clients[0].delete_object(Bucket=bucket, Key="left")
        clients[0].delete_bucket(Bucket=bucket)


def complete_through(clients: list[Any], call: dict[str, Any], index: int) -> str:
    """One CompleteMultipartUpload through replica ``index % 2``; its ETag."""
    return str(clients[index % 2].complete_multipart_upload(**call)["ETag"])


def test_completes_of_one_upload_through_two_replicas_count_it_once(
    replicas: tuple[Proxy, Proxy],
) -> None:
    """Each replica's Complete goes bound to its HEAD (``If-None-Match: *`` over no object,
    ``If-Match`` its ETag over one): the one that comes second finds the upload gone, or is
    refused 412 by SeaweedFS and then finds it gone, and answers the first one's object,
    counting nothing (before, SeaweedFS answered 200 to both, and both counted the object and
    freed the parts)."""
    clients = [client_of(proxy) for proxy in replicas]
    bucket = f"w15a-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)
    clients[1].put_object(Bucket=bucket, Key="c0", Body=b"o" * 500)  # replaced: If-Match

    try:
        for round_ in range(ROUNDS):
            key = f"c{round_}"
            upload = clients[0].create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            etag = clients[1].upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p" * 1000
            )["ETag"]
            parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}

            call = {"Bucket": bucket, "Key": key, "UploadId": upload, "MultipartUpload": parts}
            with ThreadPoolExecutor(AT_ONCE) as pool:
                answers = pool.map(partial(complete_through, clients, call), range(AT_ONCE))
                assert len(set(answers)) == 1  # one object, one ETag
        truth = stored(clients[0])
        assert truth == (ROUNDS, ROUNDS * 1000, 0)
        assert settled(replicas[0], truth) == truth
    finally:
        for round_ in range(ROUNDS):
            clients[0].delete_object(Bucket=bucket, Key=f"c{round_}")
        clients[0].delete_bucket(Bucket=bucket)
