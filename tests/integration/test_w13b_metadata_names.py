"""Wave 13 B: user-metadata names come back exactly as the client sent them, on every lane.

S3 keeps an ``x-amz-meta-*`` name as sent (lower-cased) and limits a write's user metadata to
2 KB, names and values counted as the client sent them. Ceph RGW 16 does not keep every such
name (measured): it turns ``_`` into ``-``, answers 500 UnknownError for a name over 80
characters (the proxy's 503), 403 SignatureDoesNotMatch for a write holding both ``a_b`` and
``a-b`` or a value with a tab (the proxy's 500), and an empty 400 once a write's head passes
~16 KiB (a few hundred short names, each also listed in SignedHeaders). The proxy stores such
names in a form every upstream keeps (:mod:`s3proxy.backends.upstream_metadata`); these tests
see only what a client sees.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import Proxy, upstream_key
from tests.support.s3http import object_url, send, signed
from tests.support.s3tests import MakeBucket, bucket_factory

pytestmark = pytest.mark.integration

NAMES = {
    "a_b": "underscore",
    "a-b": "hyphen, beside its underscore twin",
    "_lead": "",
    "trail_": "x",
    "__": "two",
    "n_" * 45 + "long": "a name of 94 characters",
    "l" * 120: "a name of 120 characters without an underscore",
    "t!#$%&'*+.^`|~0": "every token character but '_' and '-'",
    "s3proxy-meta": "the name the proxy packs others under",
    "plain": "stays as it was",
    "tabbed": "a\tb",
}
"""Names S3 keeps and Ceph RGW 16 changes or refuses, some it keeps, and a value it refuses (a
tab: RGW's signature check reads it otherwise than SigV4, so the write was 500 InternalError)."""


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def _replaced(values: dict[str, str]) -> Callable[[dict[str, str]], None]:
    """A tamper that sends ``values`` in place of the signed ones (their bytes, written)."""
    return lambda headers: headers.update(values)


def _metadata(s3: Any, bucket: str, key: str) -> tuple[dict[str, str], dict[str, str]]:
    head = s3.head_object(Bucket=bucket, Key=key)["Metadata"]
    get = s3.get_object(Bucket=bucket, Key=key)
    assert get["Body"].read() == b"body", key
    return head, get["Metadata"]


def test_names_come_back_as_sent_from_every_write(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """PutObject, CopyObject with COPY (the upstream's copy, and one through the proxy) and with
    REPLACE, CreateMultipartUpload → Complete and a presigned PUT: HEAD and GET answer each name
    and value as written. On Ceph RGW 16 the first write was 500 InternalError (RGW's 403 for
    ``a_b`` beside ``a-b``, or for the tab); without those, names came back with ``-``, and a
    long one was 503 (RGW's 500 UnknownError), which SDKs retry in vain."""
    s3, bucket = proxy.client("alice"), make_bucket()
    s3.put_object(Bucket=bucket, Key="put", Body=b"body", Metadata=NAMES)
    etag = s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "put"})
    s3.copy_object(  # read and written by the proxy on upstreams that ignore the condition
        Bucket=bucket,
        Key="conditional",
        CopySource={"Bucket": bucket, "Key": "put"},
        CopySourceIfMatch=etag["CopyObjectResult"]["ETag"],
    )
    replaced = {"r_1": "one", "r-1": "two", "x" * 90: "three"}
    s3.copy_object(
        Bucket=bucket,
        Key="replaced",
        CopySource={"Bucket": bucket, "Key": "put"},
        MetadataDirective="REPLACE",
        Metadata=replaced,
    )
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts", Metadata=NAMES)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=b"body")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="parts",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": "presigned", "Metadata": {"p_q": "presigned"}},
        ExpiresIn=300,
    )
    # botocore's default presigner (SigV2 query auth) signs the metadata header sent with it
    headers = {"Host": urlsplit(url).netloc, "x-amz-meta-p_q": "presigned"}
    presigned = send("PUT", url, headers, b"body")
    assert presigned.status == 200, presigned.body
    expected = {
        "put": NAMES,
        "copied": NAMES,
        "conditional": NAMES,
        "replaced": replaced,
        "parts": NAMES,
        "presigned": {"p_q": "presigned"},
    }
    for key, metadata in expected.items():
        head, get = _metadata(s3, bucket, key)
        assert head == metadata, key
        assert get == metadata, key


def test_many_names_up_to_the_limit_are_stored(
    proxy: Proxy, make_bucket: MakeBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3's 2 KB counts the client's names and values: 380 three-character names with empty
    values (1,140 bytes, a 13 KB request head with SignedHeaders), one write of exactly 2,048
    bytes in names with ``_``, and one of a ``_`` name with 511 ``é`` sent as UTF-8 (S3 reads
    each byte as a character: 2,048 bytes counted) are legal and come back whole; one byte more
    is 400 MetadataTooLarge. Ceph RGW 16 answered the first with an empty 400 (its limit on a
    request head), passed on as InvalidRequest, and the second with 500 (503 from the
    proxy)."""
    s3, bucket = proxy.client("alice"), make_bucket()
    many = {f"{n:03d}": "" for n in range(380)}
    s3.put_object(Bucket=bucket, Key="many", Body=b"body", Metadata=many)
    monkeypatch.setattr(http.client, "_MAXHEADERS", 1000)  # botocore's reader stops at 100
    access_key, secret_key = proxy.keys("alice")
    for method in ("HEAD", "GET"):
        answer = signed(method, object_url(proxy.endpoint, bucket, "many"), access_key, secret_key)
        assert answer.status == 200, method
        read = {
            name.lower()[len("x-amz-meta-") :]: value
            for name, value in answer.headers
            if name.lower().startswith("x-amz-meta-")
        }
        assert read == many, method
    full = {f"n_{n}_" + "x" * 90: "v" * 100 for n in range(10)}
    full["last_one"] = "y" * (2048 - sum(len(k) + len(v) for k, v in full.items()) - 8)
    assert sum(len(k) + len(v) for k, v in full.items()) == 2048
    s3.put_object(Bucket=bucket, Key="full", Body=b"body", Metadata=full)
    head, get = _metadata(s3, bucket, "full")
    assert head == full
    assert get == full
    url = object_url(proxy.endpoint, bucket, "widest")
    # "é" sent as UTF-8 (two bytes, as botocore sends it), read as two characters as S3 reads
    # them, so 4 bytes of the 2 KB each (wave 14 D); packed, percent-encoded as UTF-8.
    widest = {"x-amz-meta-w_": "é" * 511 + "xx"}
    as_sent = {name: value.encode().decode("latin-1") for name, value in widest.items()}
    put = signed("PUT", url, access_key, secret_key, widest, b"body", tamper=_replaced(as_sent))
    assert put.status == 200, put.body
    s3_text = as_sent["x-amz-meta-w_"].encode()  # the text S3 read, in UTF-8
    answered = f"=?UTF-8?B?{base64.b64encode(s3_text).decode()}?="
    for method in ("HEAD", "GET"):
        answer = signed(method, url, access_key, secret_key)
        assert (answer.status, answer.header("x-amz-meta-w_")) == (200, answered), method
    over = {**full, "last_one": full["last_one"] + "y"}
    with pytest.raises(s3.exceptions.ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="over", Body=b"body", Metadata=over)
    assert refused.value.response["Error"]["Code"] == "MetadataTooLarge"


@pytest.mark.upstream_layout
def test_packed_names_are_stored_as_the_layout_says(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """README "The upstream layout", restated: on Ceph RGW the names it would change are one
    ``s3proxy-meta`` entry (digest, ``;``, percent-encoded ``NAME=VALUE`` pairs), and the
    others are stored as sent, as on SeaweedFS, which keeps every name; an ``s3proxy-meta``
    entry an earlier release stored for a client reads as it was written."""
    s3, bucket = proxy.client("alice"), make_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"body", Metadata={"a_b": "1 2", "plain": "p"})
    stored = proxy.upstream.head_object(
        Bucket=proxy.home_bucket, Key=upstream_key("alice", bucket, "k")
    )["Metadata"]
    if proxy.backend == "CephRGW":
        entries = "a_b=1%202"
        digest = hashlib.sha256(entries.encode()).hexdigest()[:16]
        assert stored == {"plain": "p", "s3proxy-meta": f"{digest};{entries}"}
    else:
        assert stored == {"a_b": "1 2", "plain": "p"}
    earlier = {"s3proxy-meta": "0123456789abcdef;a=b", "x": "y"}
    proxy.upstream.put_object(
        Bucket=proxy.home_bucket,
        Key=upstream_key("alice", bucket, "earlier"),
        Body=b"body",
        Metadata=earlier,
    )
    assert _metadata(s3, bucket, "earlier") == (earlier, earlier)
