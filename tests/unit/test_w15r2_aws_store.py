"""The tenant-overlap check knows AWS S3 by an S3 endpoint, not by any host under
amazonaws.com (wave 15 R2).

A bucket name on AWS S3 is global, so two upstream entries naming AWS endpoints are one store
for the check. A load balancer's or an instance's name there (``*.elb.amazonaws.com``,
``ec2-….compute-1.amazonaws.com``) is an operator's own SeaweedFS, Ceph RGW or MinIO: two of
them are two stores, and two tenants each with bucket ``data`` on one were refused at start-up
as overlapping when every ``*.amazonaws.com`` host counted as AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_config import base_config, error_of, load, mapping


def two_upstreams(first: str, second: str) -> dict[str, Any]:
    data = base_config()
    data["upstreams"]["main"]["endpoint"] = first
    data["upstreams"]["other"] = {**data["upstreams"]["main"], "endpoint": second}
    data["tenants"]["alice"]["buckets"] = {"ant": mapping("main", "shared", "")}
    data["tenants"]["bob"]["buckets"] = {"bee": mapping("other", "shared", "")}
    return data


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "http://weed-a-123.eu-west-1.elb.amazonaws.com:8333",
            "http://weed-b-456.eu-west-1.elb.amazonaws.com:8333",
        ),
        (
            "http://ec2-203-0-113-5.compute-1.amazonaws.com",
            "http://ec2-203-0-113-6.compute-1.amazonaws.com",
        ),
    ],
)
def test_two_stores_behind_aws_hosts_are_two_stores(
    tmp_path: Path, first: str, second: str
) -> None:
    load(tmp_path, two_upstreams(first, second))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://s3.eu-west-1.amazonaws.com", "https://s3.us-east-1.amazonaws.com"),
        ("https://s3.amazonaws.com", "https://S3.EU-WEST-1.amazonaws.com."),
        ("https://s3-us-west-2.amazonaws.com", "https://s3.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_aws_s3_endpoints_are_one_store(tmp_path: Path, first: str, second: str) -> None:
    message = error_of(tmp_path, two_upstreams(first, second))
    assert message.startswith("tenants.bob.buckets.bee: upstream root "), message
