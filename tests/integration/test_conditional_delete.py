"""Conditions S3 takes on directory buckets only (LastModifiedTime/Size in DeleteObjects) are
refused with 501, and the object stays: before, the condition was dropped and the object
deleted whatever its state. (If-Match on DeleteObject and ETag in DeleteObjects are carried
out since wave 15: tests/integration/test_w15a_conditional_deletes.py.)"""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"


def refused_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return str(caught.value.response["Error"]["Code"])


def test_delete_objects_with_entry_conditions_is_refused_and_deletes_nothing(
    proxy: Proxy,
) -> None:
    s3 = proxy.client("alice")
    key = "conditional-delete/" + os.urandom(4).hex()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"kept")
    try:
        for entry in ({"Size": 1}, {"LastModifiedTime": "2026-01-01T00:00:00Z"}):
            code = refused_code(
                s3.delete_objects, Bucket=BUCKET, Delete={"Objects": [{"Key": key, **entry}]}
            )
            assert code == "NotImplemented"
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"kept"
    finally:
        s3.delete_object(Bucket=BUCKET, Key=key)
