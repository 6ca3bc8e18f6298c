"""PutObject / GetObject / HeadObject / DeleteObject through the proxy, boto3 as the client,
SeaweedFS as the upstream."""

from __future__ import annotations

import hashlib
import os
import time
from email.utils import formatdate

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, upstream_key

pytestmark = pytest.mark.integration

BUCKET = "docs"


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def status(excinfo: pytest.ExceptionInfo[ClientError]) -> int:
    return int(excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_put_get_head_delete_round_trip_with_metadata(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    body = os.urandom(3000)
    put = s3.put_object(
        Bucket=BUCKET,
        Key="meta/object.bin",
        Body=body,
        ContentType="application/x-test; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="o.bin"',
        ContentLanguage="fr-CA",
        CacheControl="max-age=60, private",
        Expires="Thu, 01 Dec 2044 16:00:00 GMT",
        Metadata={"colour": "blue", "Mixed-Case": "Value with spaces"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'

    head = s3.head_object(Bucket=BUCKET, Key="meta/object.bin")
    got = s3.get_object(Bucket=BUCKET, Key="meta/object.bin")
    assert got["Body"].read() == body
    for result in (head, got):
        assert result["ContentLength"] == len(body)
        assert result["ETag"] == put["ETag"]
        assert result["ContentType"] == "application/x-test; charset=utf-8"
        assert result["ContentEncoding"] == "identity"
        assert result["ContentDisposition"] == 'attachment; filename="o.bin"'
        assert result["ContentLanguage"] == "fr-CA"
        assert result["CacheControl"] == "max-age=60, private"
        assert result["ResponseMetadata"]["HTTPHeaders"]["expires"] == (
            "Thu, 01 Dec 2044 16:00:00 GMT"
        )
        assert result["Metadata"] == {"colour": "blue", "mixed-case": "Value with spaces"}
    assert head["LastModified"] == got["LastModified"]

    s3.delete_object(Bucket=BUCKET, Key="meta/object.bin")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=BUCKET, Key="meta/object.bin")
    assert error_code(caught) == "NoSuchKey"
    assert caught.value.response["Error"]["Key"] == "meta/object.bin"


def test_delete_is_idempotent(proxy: Proxy) -> None:
    response = proxy.client("alice").delete_object(Bucket=BUCKET, Key="never/was/here")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_head_of_missing_key_is_404(proxy: Proxy) -> None:
    with pytest.raises(ClientError) as caught:
        proxy.client("alice").head_object(Bucket=BUCKET, Key="missing")
    assert status(caught) == 404


@pytest.mark.parametrize("size", [1024 * 1024, 64 * 1024 * 1024], ids=["1MiB", "64MiB"])
def test_large_objects_are_byte_identical(proxy: Proxy, size: int) -> None:
    s3 = proxy.client("alice")
    body = os.urandom(1024 * 1024) * (size // (1024 * 1024))
    s3.put_object(Bucket=BUCKET, Key=f"big/{size}", Body=body)
    digest = hashlib.sha256()
    received = 0
    for chunk in s3.get_object(Bucket=BUCKET, Key=f"big/{size}")["Body"].iter_chunks(1 << 20):
        digest.update(chunk)
        received += len(chunk)
    assert received == size
    assert digest.hexdigest() == hashlib.sha256(body).hexdigest()
    s3.delete_object(Bucket=BUCKET, Key=f"big/{size}")


@pytest.mark.parametrize(
    "key",
    [
        "with space/and+plus",
        "percent%20literal%2F",
        "unicode/été/日本語/ü",
        "tilde~and!bang$and&amp'(paren)*,;=:@",
        "deep/" * 20 + "leaf",
    ],
)
def test_unusual_keys_round_trip(proxy: Proxy, key: str) -> None:
    s3 = proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == key.encode()
    if proxy.upstream is not None:  # stored under exactly the contract's key
        proxy.upstream.head_object(Bucket=proxy.home_bucket, Key=upstream_key("alice", BUCKET, key))
    s3.delete_object(Bucket=BUCKET, Key=key)


@pytest.mark.upstream_layout
def test_upstream_sees_only_the_hashed_mapped_key(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key="layout/check.txt", Body=b"where am I")
    expected = upstream_key("alice", BUCKET, "layout/check.txt")
    shard = hashlib.sha256(b"layout/check.txt").hexdigest()[:1]
    assert expected == f"alice/{BUCKET}/{shard}/layout-2fcheck-2etxt"  # flat
    stored = proxy.upstream.get_object(Bucket=proxy.home_bucket, Key=expected)
    assert stored["Body"].read() == b"where am I"
    listing = proxy.upstream.list_objects_v2(Bucket=proxy.home_bucket, Prefix=f"alice/{BUCKET}/")
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert "layout/check.txt" not in keys
    assert expected in keys


@pytest.mark.upstream_layout
def test_explicit_bucket_mapping(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    s3.put_object(Bucket="alice-photos", Key="cat.jpg", Body=b"meow")
    shard = hashlib.sha256(b"cat.jpg").hexdigest()[:1]
    stored = proxy.upstream.get_object(Bucket=proxy.photos_bucket, Key=f"p/{shard}/cat-2ejpg")
    assert stored["Body"].read() == b"meow"


class TestRanges:
    KEY = "ranges/digits"
    BODY = bytes(range(256)) * 4  # 1024 bytes

    @pytest.fixture(autouse=True)
    def _object(self, proxy: Proxy) -> None:
        proxy.client("alice").put_object(Bucket=BUCKET, Key=self.KEY, Body=self.BODY)

    @pytest.mark.parametrize(
        ("header", "first", "last"),
        [
            ("bytes=0-9", 0, 9),
            ("bytes=1000-", 1000, 1023),
            ("bytes=-24", 1000, 1023),
            ("bytes=1000-5000", 1000, 1023),
            ("bytes=-5000", 0, 1023),
        ],
    )
    def test_ranges(self, proxy: Proxy, header: str, first: int, last: int) -> None:
        got = proxy.client("alice").get_object(Bucket=BUCKET, Key=self.KEY, Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == f"bytes {first}-{last}/1024"
        assert got["ContentLength"] == last - first + 1
        assert got["Body"].read() == self.BODY[first : last + 1]

    def test_start_past_end_is_416_with_size(self, proxy: Proxy) -> None:
        with pytest.raises(ClientError) as caught:
            proxy.client("alice").get_object(Bucket=BUCKET, Key=self.KEY, Range="bytes=1024-")
        assert status(caught) == 416
        assert error_code(caught) == "InvalidRange"
        headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["content-range"] == "bytes */1024"

    @pytest.mark.parametrize("header", ["bytes=5-1", "bytes=0-1,4-5", "chars=0-1", "bytes=x-"])
    def test_bad_syntax_returns_whole_object(self, proxy: Proxy, header: str) -> None:
        got = proxy.client("alice").get_object(Bucket=BUCKET, Key=self.KEY, Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert got["Body"].read() == self.BODY

    def test_response_overrides(self, proxy: Proxy) -> None:
        got = proxy.client("alice").get_object(
            Bucket=BUCKET,
            Key=self.KEY,
            ResponseContentType="text/plain",
            ResponseContentDisposition="inline",
            ResponseCacheControl="no-store",
            ResponseContentLanguage="de",
            ResponseContentEncoding="identity",
            ResponseExpires=formatdate(0, usegmt=True),  # type: ignore[arg-type]
        )
        assert got["ContentType"] == "text/plain"
        assert got["ContentDisposition"] == "inline"
        assert got["CacheControl"] == "no-store"
        assert got["ContentLanguage"] == "de"
        assert got["ContentEncoding"] == "identity"
        assert got["ResponseMetadata"]["HTTPHeaders"]["expires"] == formatdate(0, usegmt=True)


class TestConditionals:
    KEY = "cond/object"

    @pytest.fixture()
    def etag(self, proxy: Proxy) -> str:
        return str(
            proxy.client("alice").put_object(Bucket=BUCKET, Key=self.KEY, Body=b"v1")["ETag"]
        )

    def test_if_match(self, proxy: Proxy, etag: str) -> None:
        s3 = proxy.client("alice")
        assert s3.get_object(Bucket=BUCKET, Key=self.KEY, IfMatch=etag)["Body"].read() == b"v1"
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=BUCKET, Key=self.KEY, IfMatch='"0000"')
        assert status(caught) == 412
        assert error_code(caught) == "PreconditionFailed"
        with pytest.raises(ClientError) as caught:
            s3.head_object(Bucket=BUCKET, Key=self.KEY, IfMatch='"0000"')
        assert status(caught) == 412

    def test_if_none_match(self, proxy: Proxy, etag: str) -> None:
        s3 = proxy.client("alice")
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=BUCKET, Key=self.KEY, IfNoneMatch=etag)
        assert status(caught) == 304
        headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["etag"] == etag
        got = s3.get_object(Bucket=BUCKET, Key=self.KEY, IfNoneMatch='"0000"')
        assert got["Body"].read() == b"v1"

    def test_modified_since(self, proxy: Proxy, etag: str) -> None:
        s3 = proxy.client("alice")
        now = formatdate(time.time(), usegmt=True)
        past = formatdate(time.time() - 86400, usegmt=True)
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=BUCKET, Key=self.KEY, IfModifiedSince=now)  # type: ignore[arg-type]
        assert status(caught) == 304
        # A date later than now is no date: S3 ignores it (wave 16 D; 304 before).
        future = formatdate(time.time() + 3600, usegmt=True)
        got = s3.get_object(Bucket=BUCKET, Key=self.KEY, IfModifiedSince=future)  # type: ignore[arg-type]
        assert got["Body"].read() == b"v1"
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=BUCKET, Key=self.KEY, IfUnmodifiedSince=past)  # type: ignore[arg-type]
        assert status(caught) == 412
        got = s3.get_object(Bucket=BUCKET, Key=self.KEY, IfModifiedSince=past)  # type: ignore[arg-type]
        assert got["Body"].read() == b"v1"

    def test_conditional_put_if_none_match_star(self, proxy: Proxy, etag: str) -> None:
        s3 = proxy.client("alice")
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=BUCKET, Key=self.KEY, Body=b"v2", IfNoneMatch="*")
        assert status(caught) == 412
        assert s3.get_object(Bucket=BUCKET, Key=self.KEY)["Body"].read() == b"v1"
        s3.put_object(
            Bucket=BUCKET, Key="cond/fresh-" + os.urandom(4).hex(), Body=b"x", IfNoneMatch="*"
        )

    def test_conditional_put_if_match(self, proxy: Proxy, etag: str) -> None:
        s3 = proxy.client("alice")
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=BUCKET, Key=self.KEY, Body=b"v2", IfMatch='"0000"')
        assert status(caught) == 412
        assert s3.get_object(Bucket=BUCKET, Key=self.KEY)["Body"].read() == b"v1"
        s3.put_object(Bucket=BUCKET, Key=self.KEY, Body=b"v3", IfMatch=etag)
        assert s3.get_object(Bucket=BUCKET, Key=self.KEY)["Body"].read() == b"v3"
