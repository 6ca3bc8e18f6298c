"""Header values outside ASCII through the running gateway, on every lane (wave 14, D).

botocore writes a header value such as ``Content-Disposition: attachment; filename="é.txt"``
as UTF-8 and signs those bytes; S3 verifies the bytes it received and stores the value. The
gateway answered 403 SignatureDoesNotMatch on every lane. Now it is stored: a content header
comes back as the bytes sent; a ``x-amz-meta-*`` value comes back as S3 answers one that holds
a byte outside ASCII, an RFC 2047 encoded word of the bytes read as ISO-8859-1
(tests/unit/test_w14d_wire_headers.py says why), and S3's 2 KB counts that text's UTF-8.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import botocore.handlers
import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed
from tests.support.s3tests import MakeBucket, bucket_factory

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def _read_as_s3(value: str) -> str:
    """S3's answer for a metadata value sent as UTF-8: each byte read as a character."""
    text = value.encode().decode("latin-1")
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def test_botocore_headers_outside_ascii_are_stored(proxy: Proxy, make_bucket: MakeBucket) -> None:
    s3, bucket = proxy.client("alice"), make_bucket()
    s3.meta.events.unregister(  # botocore refuses non-ASCII metadata itself; S3 does not
        "before-parameter-build.s3.PutObject", botocore.handlers.validate_ascii_metadata
    )
    disposition = 'attachment; filename="é 中.txt"'
    s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=b"body",
        ContentDisposition=disposition,
        Metadata={"m": "café", "plain": "ascii"},
    )
    access_key, secret_key = proxy.keys("alice")
    for method in ("HEAD", "GET"):
        got = signed(method, object_url(proxy.endpoint, bucket, "k"), access_key, secret_key)
        assert got.status == 200, (method, got.body)
        sent_back = (got.header("Content-Disposition") or "").encode("latin-1")
        assert sent_back == disposition.encode(), method
        assert got.header("x-amz-meta-m") == _read_as_s3("café"), method
        assert got.header("x-amz-meta-plain") == "ascii", method
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    copied = s3.head_object(Bucket=bucket, Key="copy")
    assert copied["Metadata"] == {"m": _read_as_s3("café"), "plain": "ascii"}
    assert copied["ContentDisposition"].encode("latin-1") == disposition.encode()
    widest = {"w": "é" * 511 + "xxx"}  # 1 + 511 x 4 (two characters read, each 2 in UTF-8) + 3
    s3.put_object(Bucket=bucket, Key="widest", Body=b"body", Metadata=widest)
    assert s3.head_object(Bucket=bucket, Key="widest")["Metadata"] == {
        "w": _read_as_s3(widest["w"])
    }
    with pytest.raises(s3.exceptions.ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="over", Body=b"body", Metadata={"w": widest["w"] + "x"})
    assert refused.value.response["Error"]["Code"] == "MetadataTooLarge"
