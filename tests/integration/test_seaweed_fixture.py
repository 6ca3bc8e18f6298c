"""Checks the test infrastructure itself: the session SeaweedFS fixture stores and returns bytes."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.integration
def test_seaweed_fixture_round_trips_an_object(upstream_s3: Any) -> None:
    bucket, key, body = "fixture-check", "hello.txt", b"fixture works\n"
    upstream_s3.create_bucket(Bucket=bucket)
    try:
        upstream_s3.put_object(Bucket=bucket, Key=key, Body=body)
        assert upstream_s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        upstream_s3.delete_object(Bucket=bucket, Key=key)
    finally:
        upstream_s3.delete_bucket(Bucket=bucket)
