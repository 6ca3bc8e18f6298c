"""A quota tenant's copies onto one key through two replicas count what they replaced (wave 15
A3), on SeaweedFS (whose server-side copies check the target's ``If-Match`` /
``If-None-Match``).

Before, each replica HEADed the target and sent its copy bound to its source only: copies of
small objects onto one large object through both replicas at once each counted the large
object replaced, and /usage fell below what is stored by its size for every copy that raced (a
tenant repeating it could store past its quota). Each copy now goes bound to what its target's
HEAD read too; one that meets another replica's object is sent again after new HEADs (a copy
has no body to lose), or, should the target keep changing, answered 503 SlowDown.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.test_w14f2_workers import AT_ONCE, ROUNDS, replicas, settled
from tests.integration.test_w14f_usage_probe import client_of, stored

pytestmark = pytest.mark.integration
__all__ = ["replicas"]  # the fixture: two single-process gateways on one SeaweedFS


def test_copies_onto_one_object_through_two_replicas_count_what_they_replaced(
    replicas: tuple[Proxy, Proxy],
) -> None:
    clients = [client_of(proxy) for proxy in replicas]
    bucket = f"w15a3-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)
    for index in range(AT_ONCE):
        clients[0].put_object(Bucket=bucket, Key=f"s{index}", Body=b"s" * (10 + index))
    refused: list[str] = []

    def copy(index: int) -> None:
        source = {"Bucket": bucket, "Key": f"s{index}"}
        try:
            clients[index % 2].copy_object(Bucket=bucket, Key="x", CopySource=source)
        except ClientError as error:  # the target kept changing through the other replica
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            refused.append(error.response["Error"]["Code"])

    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            for _ in range(ROUNDS):
                clients[0].put_object(Bucket=bucket, Key="x", Body=b"x" * 5000)
                list(pool.map(copy, range(AT_ONCE)))
        assert set(refused) <= {"SlowDown"}
        truth = stored(clients[0])
        assert truth[0] == AT_ONCE + 1 and truth[1] < 200
        assert settled(replicas[0], truth) == truth
    finally:
        for entry in clients[0].list_objects_v2(Bucket=bucket).get("Contents", []):
            clients[0].delete_object(Bucket=bucket, Key=entry["Key"])
        clients[0].delete_bucket(Bucket=bucket)
