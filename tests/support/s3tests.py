"""Helpers of the tests that restate ceph/s3-tests (tests/integration/test_s3tests_*.py):
fresh buckets as s3-tests makes them, listings by V1 or V2, and the fields they compare."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

MakeBucket = Callable[..., str]


def failure(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = excinfo.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


def keys_of(page: dict[str, Any]) -> list[str]:
    return [item["Key"] for item in page.get("Contents", [])]


def prefixes_of(page: dict[str, Any]) -> list[str]:
    return [item["Prefix"] for item in page.get("CommonPrefixes", [])]


def body_of(response: dict[str, Any]) -> bytes:
    return bytes(response["Body"].read())


def empty_bucket(s3: Any, name: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        if page.get("Contents"):
            objects = [{"Key": item["Key"]} for item in page["Contents"]]
            s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})


def bucket_factory(proxy: Proxy) -> Iterator[MakeBucket]:
    """For a ``make_bucket`` fixture: a factory of fresh alice buckets, each holding ``keys``
    (every body is its own key, as s3-tests stores them), removed with their objects after the
    test."""
    s3 = proxy.client("alice")
    made: list[str] = []

    def make(keys: tuple[str, ...] | list[str] = ()) -> str:
        name = f"s3t-{os.urandom(6).hex()}"
        s3.create_bucket(Bucket=name)
        made.append(name)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: s3.put_object(Bucket=name, Key=key, Body=key), keys))
        return name

    yield make
    for name in made:
        try:
            empty_bucket(s3, name)
            s3.delete_bucket(Bucket=name)
        except ClientError as error:  # a test that removed its own bucket
            assert error.response["Error"]["Code"] == "NoSuchBucket"


def v1(s3: Any, bucket: str, **params: Any) -> dict[str, Any]:
    return dict(s3.list_objects(Bucket=bucket, **params))


def v2(s3: Any, bucket: str, **params: Any) -> dict[str, Any]:
    return dict(s3.list_objects_v2(Bucket=bucket, **params))


LISTERS = {"v1": v1, "v2": v2}
