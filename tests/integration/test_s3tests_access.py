"""What ceph/s3-tests checks of object writes racing reads, anonymous and presigned access,
100-continue and the versioning it needs first (s3tests_boto3/functional/test_s3.py), restated
in our own words, on every lane. Each check names the s3-tests functions it covers."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, send
from tests.support.s3tests import (
    MakeBucket,
    body_of,
    bucket_factory,
    failure,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


class RepeatedByte:
    """``size`` copies of one byte, read as a file, calling ``on_end`` each time its last byte
    is read (s3-tests' FakeWriteFile, in our words): botocore reads a body to hash it, then
    again to send it, so the call also comes while the request is on the wire."""

    def __init__(self, size: int, fill: bytes, on_end: Callable[[], None] | None = None) -> None:
        self.size, self.fill, self.on_end, self.offset = size, fill, on_end, 0

    def read(self, amount: int = -1) -> bytes:
        count = self.size - self.offset if amount < 0 else min(amount, self.size - self.offset)
        self.offset += count
        if count and self.offset == self.size and self.on_end is not None:
            self.on_end()
        return self.fill * count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.offset, os.SEEK_END: self.size}[whence]
        self.offset = base + offset
        return self.offset

    def tell(self) -> int:
        return self.offset


def all_of(s3: Any, bucket: str, key: str, size: int) -> bytes:
    """The one byte the object is made of (it must be one byte throughout, of ``size``)."""
    body = body_of(s3.get_object(Bucket=bucket, Key=key))
    assert len(body) == size and body == body[:1] * size
    return body[:1]


class TestAtomicity:
    SIZE = 1024 * 1024

    def test_readers_see_the_old_object_until_a_put_ends(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_atomic_write_1mb/4mb/8mb: while B's are being written over A's, a GET reads
        all A's; afterwards all B's."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="testobj", Body=RepeatedByte(self.SIZE, b"A"))
        seen: list[bytes] = []
        check = lambda: seen.append(all_of(s3, bucket, "testobj", self.SIZE))  # noqa: E731
        s3.put_object(Bucket=bucket, Key="testobj", Body=RepeatedByte(self.SIZE, b"B", check))
        assert seen and set(seen) == {b"A"}
        assert all_of(s3, bucket, "testobj", self.SIZE) == b"B"

    def test_two_writers_leave_one_whole_object(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_atomic_dual_write_1mb/4mb/8mb: a PUT of A's ends while one of B's is under way;
        the object is then all B's, never a mix."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="testobj", Body=b"")
        other = lambda: s3.put_object(  # noqa: E731
            Bucket=bucket, Key="testobj", Body=RepeatedByte(self.SIZE, b"A")
        )
        s3.put_object(Bucket=bucket, Key="testobj", Body=RepeatedByte(self.SIZE, b"B", other))
        assert all_of(s3, bucket, "testobj", self.SIZE) == b"B"

    def test_a_read_under_way_is_not_mixed_with_a_new_put(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_atomic_read_1mb/4mb/8mb: a GET that began on A's reads A's to its end even when
        B's replace them meanwhile; the next GET reads B's."""
        size = 8 * 1024 * 1024
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="testobj", Body=RepeatedByte(size, b"A"))
        stream = s3.get_object(Bucket=bucket, Key="testobj")["Body"]
        head = stream.read(64 * 1024)
        s3.put_object(Bucket=bucket, Key="testobj", Body=RepeatedByte(size, b"B"))
        body = head + stream.read()
        assert len(body) == size and body == b"A" * size
        assert all_of(s3, bucket, "testobj", size) == b"B"

    def test_an_aborted_multipart_upload_leaves_the_object(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_atomic_multipart_upload_write."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")
        upload = s3.create_multipart_upload(Bucket=bucket, Key="foo")["UploadId"]
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"
        s3.abort_multipart_upload(Bucket=bucket, Key="foo", UploadId=upload)
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"bar"


def fetch(url: str, method: str = "GET", data: bytes = b"") -> tuple[int, str | None, bytes]:
    """A presigned URL sent as a browser would: Host (and Content-Length) only."""
    response = send(method, url, {"Host": url.split("/")[2]}, data)
    code = response.error_code if response.status >= 300 else None
    return response.status, code, response.body


def sigv2_presigner(proxy: Proxy) -> Any:
    """boto3's default presigner for S3, as s3-tests uses it: SigV2 query authentication,
    whose Expires is a time (so 0 and negative lifetimes can be signed at all)."""
    ak, sk = proxy.keys("alice")
    return boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


class TestAnonymousAndPresigned:
    def test_anonymous_reads_follow_the_acls(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_raw_get, _raw_get_bucket_acl (private bucket, public object: 200),
        _raw_get_object_gone (404 NoSuchKey), _raw_authenticated, _raw_authenticated_bucket_acl,
        _raw_authenticated_object_acl, _raw_authenticated_object_gone."""
        s3 = proxy.client("alice")
        public, private = make_bucket(), make_bucket()
        s3.put_bucket_acl(Bucket=public, ACL="public-read")
        for bucket in (public, private):
            s3.put_object(Bucket=bucket, Key="foo", Body=b"foo", ACL="public-read")
            assert fetch(object_url(proxy.endpoint, bucket, "foo"))[0] == 200
            assert (
                s3.get_object(Bucket=bucket, Key="foo")["ResponseMetadata"]["HTTPStatusCode"] == 200
            )
        s3.put_object(Bucket=private, Key="closed", Body=b"x")
        assert fetch(object_url(proxy.endpoint, private, "closed"))[:2] == (403, "AccessDenied")
        s3.delete_object(Bucket=public, Key="foo")
        assert fetch(object_url(proxy.endpoint, public, "foo"))[:2] == (404, "NoSuchKey")
        with pytest.raises(ClientError) as gone:
            s3.get_object(Bucket=public, Key="foo")
        assert failure(gone) == (404, "NoSuchKey")

    def test_anonymous_requests_on_a_deleted_bucket(
        self, proxy: Proxy, make_bucket: MakeBucket
    ) -> None:
        """test_object_raw_get_bucket_gone, test_object_delete_key_bucket_gone expect 404
        NoSuchBucket for an anonymous GET/DELETE once the bucket is gone. Here an anonymous
        caller learns nothing about which buckets exist (README "Canned ACLs, anonymous reads"):
        403 AccessDenied, as for a private bucket. Signed, it is 404 NoSuchBucket."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
        s3.delete_bucket(Bucket=bucket)
        url = object_url(proxy.endpoint, bucket, "foo")
        for method in ("GET", "DELETE"):
            assert fetch(url, method)[:2] == (403, "AccessDenied")
        with pytest.raises(ClientError) as gone:
            s3.get_object(Bucket=bucket, Key="foo")
        assert failure(gone) == (404, "NoSuchBucket")

    def test_anonymous_writes(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_anon_put (403 AccessDenied), test_object_anon_put_write_access (200 in a
        public-read-write bucket), test_object_put_authenticated."""
        s3, bucket = proxy.client("alice"), make_bucket()
        s3.put_object(Bucket=bucket, Key="foo", Body=b"")
        url = object_url(proxy.endpoint, bucket, "foo")
        assert fetch(url, "PUT", b"foo")[:2] == (403, "AccessDenied")
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b""
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
        assert fetch(url, "PUT", b"foo")[0] == 200
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"foo"

    @pytest.mark.parametrize("expires", [0, -7, 609901], ids=["zero", "negative", "too_long"])
    def test_presigned_expiry_out_of_range(
        self, proxy: Proxy, make_bucket: MakeBucket, expires: int
    ) -> None:
        """test_object_raw_get_x_amz_expires_out_range_zero, _out_positive_range,
        _out_max_range: 403 (with boto3's default SigV2 presigner, as s3-tests signs). A SigV4
        URL of more than 7 days is AWS's 400 AuthorizationQueryParametersError; botocore
        signs no SigV4 URL of 0 or fewer seconds."""
        bucket = make_bucket(["foo"])
        params = {"Bucket": bucket, "Key": "foo"}
        url = sigv2_presigner(proxy).generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires
        )
        assert fetch(url)[:2] == (403, "AccessDenied")
        if expires > 0:
            url = proxy.client("alice").generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires
            )
            assert fetch(url)[:2] == (400, "AuthorizationQueryParametersError")

    def test_presigned_within_range(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """test_object_raw_get_x_amz_expires_not_expired, test_object_raw_put_authenticated_
        expired (a PUT URL that expired: 403, the object unchanged)."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo"])
        params = {"Bucket": bucket, "Key": "foo"}
        url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=100000)
        assert fetch(url)[::2] == (200, b"foo")
        url = sigv2_presigner(proxy).generate_presigned_url(
            "put_object", Params=params, ExpiresIn=-1000
        )
        assert fetch(url, "PUT", b"bar")[0] == 403
        assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"foo"


class TestVersioningRefused:
    def test_enabling_versioning_is_refused(self, proxy: Proxy, make_bucket: MakeBucket) -> None:
        """The s3-tests object checks that first enable versioning (test_object_copy_versioned_
        bucket, _copy_versioning_multipart_upload, test_bucket_list_return_data_versioning,
        test_versioning_*): 501 NotImplemented, and the bucket stays unversioned, where the
        ``null`` version still addresses each object (a copy source too)."""
        s3, bucket = proxy.client("alice"), make_bucket(["foo"])
        for status in ("Enabled", "Suspended"):
            with pytest.raises(ClientError) as refused:
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
            assert failure(refused) == (501, "NotImplemented")
        assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
        got = s3.get_object(Bucket=bucket, Key="foo", VersionId="null")
        assert body_of(got) == b"foo"
        source = {"Bucket": bucket, "Key": "foo", "VersionId": "null"}
        s3.copy_object(Bucket=bucket, Key="bar", CopySource=source)
        assert body_of(s3.get_object(Bucket=bucket, Key="bar")) == b"foo"


def first_status_after_expect(proxy: Proxy, path: str) -> str:
    """The status of the first answer to an unsigned PUT that announces 123 body bytes with
    ``Expect: 100-continue`` and sends none (s3-tests' raw-socket probe, in our words)."""
    request = (
        f"PUT {path} HTTP/1.1\r\nHost: {proxy.host}\r\nAccept-Encoding: identity\r\n"
        "Content-Length: 123\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as connection:
        connection.sendall(request.encode())
        line = connection.recv(1024).split(b"\r\n", 1)[0].decode()
    assert line.startswith("HTTP/1.1 "), line
    return line.split(" ")[1]


def test_expect_continue_waits_for_the_decision(proxy: Proxy, make_bucket: MakeBucket) -> None:
    """test_100_continue: an anonymous PUT into a private bucket is refused before any body is
    asked for (403); into a public-read-write bucket the body is asked for (100)."""
    s3, bucket = proxy.client("alice"), make_bucket()
    assert first_status_after_expect(proxy, f"/{bucket}/testobj") == "403"
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert first_status_after_expect(proxy, f"/{bucket}/testobj") == "100"
