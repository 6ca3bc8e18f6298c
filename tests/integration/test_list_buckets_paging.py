"""ListBuckets pages as S3 does: max-buckets, continuation-token, prefix, bucket-region.

Before, all four were accepted and ignored (every bucket came back with a 200), so a client
paging with a prefix saw other buckets and a client asking for another region saw these.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import TENANT_KEYS, Proxy
from tests.support.s3http import signed

pytestmark = pytest.mark.integration


@pytest.fixture()
def names(proxy: Proxy) -> Iterator[list[str]]:
    stem = "pg" + os.urandom(3).hex()
    s3 = proxy.client("alice")
    created = [f"{stem}-{index}" for index in range(5)]
    for name in created:
        s3.create_bucket(Bucket=name)
    yield created
    for name in created:
        s3.delete_bucket(Bucket=name)


def test_pages_follow_the_continuation_token(proxy: Proxy, names: list[str]) -> None:
    s3 = proxy.client("alice")
    prefix = names[0][:-1]
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        page = s3.list_buckets(MaxBuckets=2, Prefix=prefix, **extra)
        pages += 1
        assert len(page["Buckets"]) <= 2
        assert page["Prefix"] == prefix
        assert all(bucket["BucketRegion"] == "us-east-1" for bucket in page["Buckets"])
        seen.extend(bucket["Name"] for bucket in page["Buckets"])
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == names
    assert pages == 3


def test_prefix_selects_and_other_regions_are_empty(proxy: Proxy, names: list[str]) -> None:
    s3 = proxy.client("alice")
    only = s3.list_buckets(Prefix=names[3])["Buckets"]
    assert [bucket["Name"] for bucket in only] == [names[3]]
    assert s3.list_buckets(BucketRegion="eu-west-1", Prefix=names[0][:-1])["Buckets"] == []
    everything = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    assert set(names) <= set(everything)


@pytest.mark.parametrize("value", ["0", "10001", "two"])
def test_bad_max_buckets_is_invalid_argument(proxy: Proxy, value: str) -> None:
    response = signed("GET", f"{proxy.endpoint}/?max-buckets={value}", *TENANT_KEYS["alice"])
    assert (response.status, response.error_code) == (400, "InvalidArgument")


def test_a_token_is_bound_to_its_tenant_and_prefix(proxy: Proxy, names: list[str]) -> None:
    alice = proxy.client("alice")
    token = alice.list_buckets(MaxBuckets=1, Prefix=names[0][:-1])["ContinuationToken"]
    for client, prefix in ((alice, "other"), (proxy.client("bob"), names[0][:-1])):
        with pytest.raises(ClientError) as caught:
            client.list_buckets(MaxBuckets=1, Prefix=prefix, ContinuationToken=token)
        assert caught.value.response["Error"]["Code"] == "InvalidArgument"
