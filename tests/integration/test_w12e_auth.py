"""Authentication round (wave 12, E), end to end through a real proxy (local store, one lane:
both refusals are decided before any backend call).

- A key scoped to write ``in/`` and read ``pub/`` made an object under ``in/`` that it may not
  read public-read (PutObjectAcl was a write), then read it anonymously: 200 with the bytes.
- A PutObjectTagging whose ``x-amz-content-sha256`` announced an aws-chunked body carried a
  plain body no signature covered, and its tags were applied (200).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, client_for, proxy_settings, start_proxy
from tests.support.s3http import object_url, send, sign

pytestmark = pytest.mark.integration

BUCKET = "docs"
WRITER = ("AKW12EWRITER0000001", "writer-secret-w12e-aaaaaaaaaaaaa")
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


@pytest.fixture(scope="module")
def scoped_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    tenants: dict[str, Any] = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    grants = [
        {"actions": ["write"], "buckets": [BUCKET], "prefixes": ["in/"]},
        {"actions": ["read"], "buckets": [BUCKET], "prefixes": ["pub/"]},
    ]
    tenants["alice"]["keys"].append(
        {"access_key": WRITER[0], "secret_key": WRITER[1], "allow": grants}
    )
    running = start_proxy(None, None, tmp_path_factory.mktemp("w12e-auth"), tenants=tenants)
    try:
        yield running
    finally:
        running.process.stop()


def anonymous_get(proxy: Proxy, key: str) -> tuple[int, bytes]:
    url = object_url(proxy.endpoint, BUCKET, key)
    response = send("GET", url, {"Host": urlsplit(url).netloc})
    return response.status, response.body


def test_a_write_only_key_cannot_publish_what_it_cannot_read(scoped_proxy: Proxy) -> None:
    proxy = scoped_proxy
    run = os.urandom(4).hex()
    alice, writer = proxy.client("alice"), client_for(proxy.endpoint, *WRITER)
    alice.put_object(Bucket=BUCKET, Key=f"in/{run}/alice", Body=b"alice only")
    with pytest.raises(ClientError) as caught:
        writer.put_object_acl(Bucket=BUCKET, Key=f"in/{run}/alice", ACL="public-read")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert anonymous_get(proxy, f"in/{run}/alice")[0] == 403
    acl = alice.get_object_acl(Bucket=BUCKET, Key=f"in/{run}/alice")["Grants"]
    assert [g["Permission"] for g in acl] == ["FULL_CONTROL"]
    # Its own upload may still be public: the bytes are the key's own.
    writer.put_object(Bucket=BUCKET, Key=f"in/{run}/own", Body=b"mine", ACL="public-read")
    assert anonymous_get(proxy, f"in/{run}/own") == (200, b"mine")


def test_a_streaming_hash_on_tagging_applies_nothing(scoped_proxy: Proxy) -> None:
    proxy = scoped_proxy
    key = f"in/{os.urandom(4).hex()}/tagged"
    alice = proxy.client("alice")
    alice.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    body = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    url = object_url(proxy.endpoint, BUCKET, key, "tagging")
    headers = sign("PUT", url, *proxy.keys("alice"), {}, body, payload_hash=STREAMING)
    response = send("PUT", url, headers, body)
    assert (response.status, response.error_code) == (501, "NotImplemented"), response.body
    assert alice.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == []
