"""S3's conditional deletes (wave 15 A): ``If-Match`` on DeleteObject and ``<ETag>`` in a
DeleteObjects entry are carried out where the storage checks them, with S3's answers.

Before, both were 501 NotImplemented on every lane. S3 (and so the local store and SeaweedFS
4.48 through the gateway): the object's ETag, quoted or not, or ``*`` with an object there,
deletes it (204); another ETag is 412 PreconditionFailed and the object stays; no object at all
is 404 NoSuchKey (SeaweedFS answers 412 there; the gateway reads the key again). In
DeleteObjects the same per entry. Ceph RGW 16 ignores both conditions and deletes, so there
they stay 501 and nothing is deleted (s3proxy.backends.conditional_deletes).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"


def answer(call: Any, **params: Any) -> tuple[int, str]:
    """(HTTP status, error code or "") of one call."""
    try:
        response = call(**params)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
    return response["ResponseMetadata"]["HTTPStatusCode"], ""


def kept(s3: Any, key: str) -> bool:
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
    except ClientError:
        return False
    return True


def checked(proxy: Proxy) -> bool:
    """Whether the lane's storage checks a delete's condition (Ceph RGW 16 does not)."""
    return proxy.backend != "CephRGW"


def test_delete_object_if_match_is_carried_out_as_s3_answers(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = "w15a-conditional/" + os.urandom(4).hex()
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"kept")["ETag"]
    delete = s3.delete_object
    try:
        if not checked(proxy):
            assert answer(delete, Bucket=BUCKET, Key=key, IfMatch=etag) == (501, "NotImplemented")
            assert kept(s3, key)
            return
        assert answer(delete, Bucket=BUCKET, Key=key, IfMatch='"0000"') == (
            412,
            "PreconditionFailed",
        )
        assert kept(s3, key)
        assert answer(delete, Bucket=BUCKET, Key=key, IfMatch=etag.strip('"')) == (204, "")
        assert not kept(s3, key)
        for value in (etag, "*"):  # no object: 404, whatever the condition
            assert answer(delete, Bucket=BUCKET, Key=key, IfMatch=value) == (404, "NoSuchKey")
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"again")
        assert answer(delete, Bucket=BUCKET, Key=key, IfMatch="*") == (204, "")
        assert not kept(s3, key)
    finally:
        s3.delete_object(Bucket=BUCKET, Key=key)


def test_delete_objects_with_etags_answers_each_entry_as_s3(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    prefix = "w15a-conditional/" + os.urandom(4).hex() + "/"
    keys = [prefix + name for name in ("right", "wrong", "missing", "plain")]
    etag = s3.put_object(Bucket=BUCKET, Key=keys[0], Body=b"r")["ETag"]
    s3.put_object(Bucket=BUCKET, Key=keys[1], Body=b"w")
    s3.put_object(Bucket=BUCKET, Key=keys[3], Body=b"p")
    objects = [
        {"Key": keys[0], "ETag": etag},
        {"Key": keys[1], "ETag": '"0000"'},
        {"Key": keys[2], "ETag": etag},
        {"Key": keys[3]},
    ]
    try:
        if not checked(proxy):
            status = answer(s3.delete_objects, Bucket=BUCKET, Delete={"Objects": objects})
            assert status == (501, "NotImplemented")
            assert [kept(s3, key) for key in keys] == [True, True, False, True]
            return
        result = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objects})
        assert sorted(item["Key"] for item in result.get("Deleted", [])) == [keys[3], keys[0]]
        errors = {item["Key"]: item["Code"] for item in result.get("Errors", [])}
        assert errors == {keys[1]: "PreconditionFailed", keys[2]: "NoSuchKey"}
        assert [kept(s3, key) for key in keys] == [False, True, False, False]
    finally:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key} for key in keys]})
