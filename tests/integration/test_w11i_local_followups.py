"""Local store follow-ups (wave 11, I), through the proxy on every lane: what a client sees of
conditional writes with a weak ETag and of part reads of an object completed from sparse part
numbers. The local store's own logic is tested in tests/unit/test_w11i_local_followups.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3tests import MakeBucket, body_of, bucket_factory, failure

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def test_a_weak_etag_never_matches_if_match_on_a_write(
    proxy: Proxy, make_bucket: MakeBucket, backend: str
) -> None:
    """test_put_object_ifmatch_failed (s3-tests) with the object's own ETag marked weak, on
    PutObject, CopyObject's destination and CompleteMultipartUpload: If-Match compares
    strongly (RFC 9110), so ``W/"etag"`` is 412 and nothing is written. SeaweedFS and Ceph RGW
    answered so; the local store wrote all three (200). (Ceph RGW 16 does not check a
    Complete's condition: the gateway refuses a conditional Complete there, 501, README.)"""
    s3, bucket = proxy.client("alice"), make_bucket(["foo", "src"])
    weak = "W/" + s3.head_object(Bucket=bucket, Key="foo")["ETag"]
    with pytest.raises(ClientError) as put:
        s3.put_object(Bucket=bucket, Key="foo", Body=b"new", IfMatch=weak)
    assert failure(put) == (412, "PreconditionFailed")
    source = {"Bucket": bucket, "Key": "src"}
    with pytest.raises(ClientError) as copy:
        s3.copy_object(Bucket=bucket, Key="foo", CopySource=source, IfMatch=weak)
    assert failure(copy) == (412, "PreconditionFailed")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="foo")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="foo", UploadId=upload, PartNumber=1, Body=b"p")[
        "ETag"
    ]
    with pytest.raises(ClientError) as complete:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="foo",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
            IfMatch=weak,
        )
    unchecked = backend == "ceph"
    assert failure(complete) == (
        (501, "NotImplemented") if unchecked else (412, "PreconditionFailed")
    )
    s3.abort_multipart_upload(Bucket=bucket, Key="foo", UploadId=upload)
    assert body_of(s3.get_object(Bucket=bucket, Key="foo")) == b"foo"


def test_part_reads_of_sparse_part_numbers_never_serve_another_part(
    proxy: Proxy, make_bucket: MakeBucket, backend: str
) -> None:
    """An object completed from parts 1 and 3, read with ``partNumber``: S3 does not say
    whether part 2 is the second part or a missing one. SeaweedFS numbers parts as uploaded
    (2 is 416, 3 the third upload's bytes); the local store read by position and served part
    3's bytes as part 2, so now it answers 501 where the two readings differ and serves what
    they agree on; on Ceph RGW 16 every part read of a multipart object is 501 (README)."""
    s3, bucket = proxy.client("alice"), make_bucket()
    first, third = b"1" * (5 * MiB), b"third"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = []
    for number, data in ((1, first), (3, third)):
        sent = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=number, Body=data)
        parts.append({"PartNumber": number, "ETag": sent["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    expected: dict[int, bytes | int] = {
        "local": {1: first, 2: 501, 3: 501, 4: 416},
        "seaweedfs": {1: first, 2: 416, 3: third, 4: 416},
        "ceph": {1: 501, 2: 501, 3: 501, 4: 501},
    }[backend]
    for number, wanted in expected.items():
        if isinstance(wanted, bytes):
            got = s3.get_object(Bucket=bucket, Key="k", PartNumber=number)
            assert (got["PartsCount"], body_of(got)) == (2, wanted), number
            head = s3.head_object(Bucket=bucket, Key="k", PartNumber=number)
            assert head["ContentLength"] == len(wanted), number
            continue
        for read in (s3.get_object, s3.head_object):
            with pytest.raises(ClientError) as refused:
                read(Bucket=bucket, Key="k", PartNumber=number)
            assert failure(refused)[0] == wanted, (number, read)
