"""Conditional deletes (If-Match on DeleteObject, ETag/LastModifiedTime/Size in DeleteObjects)
are refused with 501, and the object stays: before, the condition was dropped and the object
deleted whatever its state."""

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


def test_delete_object_if_match_is_refused_and_deletes_nothing(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = "conditional-delete/" + os.urandom(4).hex()
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"kept")["ETag"]
    try:
        assert refused_code(s3.delete_object, Bucket=BUCKET, Key=key, IfMatch='"0000"') == (
            "NotImplemented"
        )
        assert refused_code(s3.delete_object, Bucket=BUCKET, Key=key, IfMatch=etag) == (
            "NotImplemented"
        )
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"kept"
    finally:
        s3.delete_object(Bucket=BUCKET, Key=key)


def test_delete_objects_with_entry_conditions_is_refused_and_deletes_nothing(
    proxy: Proxy,
) -> None:
    s3 = proxy.client("alice")
    key = "conditional-delete/" + os.urandom(4).hex()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"kept")
    try:
        for entry in ({"ETag": '"0000"'}, {"Size": 1}):
            code = refused_code(
                s3.delete_objects, Bucket=BUCKET, Delete={"Objects": [{"Key": key, **entry}]}
            )
            assert code == "NotImplemented"
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"kept"
    finally:
        s3.delete_object(Bucket=BUCKET, Key=key)
