"""Cost amplification (wave 11 H): a request whose bytes are cheap to send and dear to serve is
bounded before the work, at the size of the largest request S3 would carry out.

A ``<Tagging>`` body was read and parsed up to the 2 MiB every small XML body had: 52,000 tags
cost the worker ~196 ms of CPU (a 1 KiB GET ~1 ms) before the 400 that refused them. A tag
document's body is now refused past 256 KiB, from its Content-Length, unread; the largest legal
document (~173 KB here: 50 tags of 128 + 256 characters, each a character reference) is stored.
A DeleteObjects body holding more markup than S3's document could is MalformedXML unparsed.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, sign, signed

pytestmark = pytest.mark.integration

LIMIT = 256 * 1024


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    name = "cost-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    yield name
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def _head_only(proxy: Proxy, url: str, length: int) -> tuple[int, bytes]:
    """Send a signed PUT's head announcing ``length`` body bytes and none of them: a request
    refused from its Content-Length is answered at once; one that reads its body never is."""
    access_key, secret_key = proxy.keys("alice")
    body = b"<Tagging><TagSet></TagSet></Tagging>".ljust(length)
    headers = sign(
        "PUT",
        url,
        access_key,
        secret_key,
        {"Content-MD5": _md5(body), "Content-Length": str(length)},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    split = urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=5)
    try:
        connection.putrequest("PUT", f"{split.path}?{split.query}", skip_host=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.one_lane  # the size is judged before any backend call
def test_a_tag_document_past_the_largest_legal_one_is_refused_unread(
    proxy: Proxy, bucket: str
) -> None:
    for url in (
        object_url(proxy.endpoint, bucket, "k", "tagging"),
        object_url(proxy.endpoint, bucket, None, "tagging"),
    ):
        status, answer = _head_only(proxy, url, LIMIT + 1)
        assert status == 400, answer[:300]
        assert b"<Code>MalformedXML</Code>" in answer
        assert b"Your request body is too large." in answer


@pytest.mark.one_lane
def test_the_largest_legal_tag_document_is_stored(proxy: Proxy, bucket: str) -> None:
    """50 tags of a 128-character key and a 256-character value, every character U+20000 (a
    letter) written as ``&#131072;``: 173 KB, under the bound, and stored as sent."""
    letter = "\U00020000"
    tags = [(f"{n:03d}" + letter * 125, letter * 256) for n in range(50)]

    def referenced(text: str) -> str:
        return "".join(f"&#{ord(char)};" for char in text)

    entries = "".join(
        f"<Tag><Key>{referenced(key)}</Key><Value>{referenced(value)}</Value></Tag>"
        for key, value in tags
    )
    body = f"<Tagging><TagSet>{entries}</TagSet></Tagging>".encode()
    assert 170_000 < len(body) <= LIMIT
    access_key, secret_key = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, None, "tagging")
    answer = signed("PUT", url, access_key, secret_key, {"Content-MD5": _md5(body)}, body)
    assert answer.status == 204, answer.body[:300]
    stored = proxy.client("alice").get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert sorted((tag["Key"], tag["Value"]) for tag in stored) == tags


@pytest.mark.one_lane  # the body is judged before any backend call
def test_a_delete_holding_more_markup_than_s3_defines_deletes_nothing(
    proxy: Proxy, bucket: str
) -> None:
    """DeleteObjects of one object whose entry holds 100,000 empty elements: the tree of such
    a body (up to 6 MiB) cost ~2 s of the worker's CPU and 136 MiB, and then the object was
    deleted, the elements ignored. It is MalformedXML, before parsing, as a body off S3's
    schema is; the object stays."""
    body = b"<Delete><Object><Key>k</Key>" + b"<x/>" * 100_000 + b"</Object></Delete>"
    access_key, secret_key = proxy.keys("alice")
    url = object_url(proxy.endpoint, bucket, None, "delete")
    answer = signed("POST", url, access_key, secret_key, {"Content-MD5": _md5(body)}, body)
    assert answer.status == 400, answer.body[:300]
    assert b"<Code>MalformedXML</Code>" in answer.body
    assert proxy.client("alice").head_object(Bucket=bucket, Key="k")["ContentLength"] == 1
