"""A key no write can store, answered as a missing key in the corners wave 15 H left (R2).

On an S3 upstream a key of up to 1024 bytes whose upstream key would pass the upstream's limit
(``flat`` encoding: a byte that is not a letter or digit takes 3) is never stored; since wave
15 H its reads answer 404 NoSuchKey. Still 400 KeyTooLongError were: a GET or HEAD with SSE-C
headers and a copy whose source has them (the customer key's check located the key first), and
PutObjectTagging in a bucket that does not exist answered NoSuchKey before S3's
NoSuchBucket. The proxy here lets SSE-C over plain HTTP (``server.sse_c_over_http``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, start_proxy

pytestmark = pytest.mark.integration

BUCKET = "docs"


@pytest.fixture(scope="module")
def keyed_proxy(
    proxy: Proxy, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    if backend != "seaweedfs":
        pytest.skip("the local store keeps every key; one S3 upstream proves the gateway's order")
    running = start_proxy(
        proxy.server,
        proxy.upstream,
        tmp_path_factory.mktemp("w15r2-keys"),
        server={"sse_c_over_http": True},
    )
    try:
        yield running
    finally:
        running.process.stop()


def error(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_an_unstorable_key_is_missing_in_every_corner(keyed_proxy: Proxy) -> None:
    s3 = keyed_proxy.client("alice")
    tag = os.urandom(3).hex()
    key = f"w15r2-{tag}/" + "\u65e5\u672c" * 60  # 372 bytes; over 1,024 under ``flat``
    # A read teaches this process the home's key encoding (before, keys locate as ``plain``).
    assert error(s3.get_object, Bucket=BUCKET, Key=key) == (404, "NoSuchKey")
    customer = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    assert error(s3.get_object, Bucket=BUCKET, Key=key, **customer) == (404, "NoSuchKey")
    assert error(s3.head_object, Bucket=BUCKET, Key=key, **customer) == (404, "404")
    # A copy from it with the source's customer key: as from any missing key (here 501, as
    # this upstream takes no SSE-C: refused before any look-up).
    answers = []
    for name in (key, f"w15r2-{tag}/missing"):
        source = {
            "CopySource": {"Bucket": BUCKET, "Key": name},
            "CopySourceSSECustomerAlgorithm": "AES256",
            "CopySourceSSECustomerKey": os.urandom(32),
        }
        answers.append(error(s3.copy_object, Bucket=BUCKET, Key=f"w15r2-{tag}/copy", **source))
    assert answers[0] == answers[1] != (400, "KeyTooLongError")

    tagging = {"Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}
    gone = f"w15r2-gone-{tag}"
    assert error(s3.put_object_tagging, Bucket=gone, Key=key, **tagging) == (404, "NoSuchBucket")
    assert error(s3.put_object_tagging, Bucket=BUCKET, Key=key, **tagging) == (404, "NoSuchKey")
