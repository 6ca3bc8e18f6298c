"""Keys at the length limits, as S3 answers them (wave 15, H).

Odd keys — spaces, ``+``, ``%``, ``%2F``, ``?``, ``#``, ``\\``, ``//``, leading ``/``, ``.``
and ``..`` segments, NFC and NFD forms, emoji, control and XML-invalid characters, keys
differing only by case — went through boto3 (PUT, GET, HEAD, copy, multipart, tags, ACLs,
V1/V2/versions/uploads listings with and without ``encoding-type=url``, paged across shards,
presigned V2 and V4, SigV2), aws-cli, s3cmd and rclone (sync up and down, ls, server-side
copy and move, rm) on every lane: each was stored as sent and listed in UTF-8 byte order.
What differed from S3 was at the limits:

- A key over 1024 bytes is S3's KeyTooLongError, whose document names the key's ``<Size>``
  and the ``<MaxSizeAllowed>`` 1024; the gateway's named neither.
- On an S3 upstream a key of up to 1024 bytes whose upstream key would pass the upstream's
  1024 (README "The upstream layout": under ``flat`` a byte that is not a letter or digit
  takes 3) can never be stored, and its write is refused with KeyTooLongError. Reads and
  deletes of it answered that 400 too, where S3, which takes such a key, answers a missing
  one: HEAD and GET 404 NoSuchKey (a sync tool's HEAD before its upload), DELETE 204,
  DeleteObjects ``<Deleted>`` (a list of keys removed elsewhere), a copy from it NoSuchKey
  naming the source key, its tags NoSuchKey.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"


def _error(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.mark.one_lane  # refused before any backend call
def test_a_key_over_1024_bytes_is_too_long_with_its_size(proxy: Proxy) -> None:
    access_key, secret_key = proxy.keys("alice")
    key = "\u00e9" * 512 + "k"  # 1025 bytes, 513 characters
    url = object_url(proxy.endpoint, BUCKET, key)
    for method in ("PUT", "GET"):
        answer = signed(method, url, access_key, secret_key, body=b"x" if method == "PUT" else b"")
        assert (answer.status, answer.error_code) == (400, "KeyTooLongError"), answer.body
        assert b"<Size>1025</Size><MaxSizeAllowed>1024</MaxSizeAllowed>" in answer.body


def test_a_key_no_write_can_store_is_answered_as_missing(proxy: Proxy, backend: str) -> None:
    s3 = proxy.client("alice")
    tag = os.urandom(3).hex()
    key = f"w15h-{tag}/" + "\u65e5\u672c" * 60  # 372 bytes; 1,000 and more under ``flat``
    if backend == "local":
        pytest.skip("the local store keeps every key of up to 1024 bytes (test_local_store_probe)")
    assert _error(lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")) == (
        400,
        "KeyTooLongError",
    )
    assert _error(lambda: s3.head_object(Bucket=BUCKET, Key=key)) == (404, "404")
    assert _error(lambda: s3.get_object(Bucket=BUCKET, Key=key)) == (404, "NoSuchKey")
    assert _error(lambda: s3.get_object_tagging(Bucket=BUCKET, Key=key)) == (404, "NoSuchKey")
    assert s3.delete_object(Bucket=BUCKET, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    other = f"w15h-{tag}/other"
    s3.put_object(Bucket=BUCKET, Key=other, Body=b"o")
    deleted = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key}, {"Key": other}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted([key, other])
    assert "Errors" not in deleted
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=BUCKET, Key=other, CopySource={"Bucket": BUCKET, "Key": key})
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
    assert caught.value.response["Error"]["Key"] == key
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"w15h-{tag}/")
