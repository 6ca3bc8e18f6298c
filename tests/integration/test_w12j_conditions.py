"""A copy's and a Complete's 412 PreconditionFailed name the condition that failed, as S3's do
(``<Condition>`` in the error body), on every lane: before wave 12 J only the local store named
a destination's If-Match / If-None-Match, and no lane named a copy source's
``x-amz-copy-source-If-*`` (wave 12 A did the same for GetObject and PutObject)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3tests import MakeBucket, bucket_factory

pytestmark = pytest.mark.integration

PAST = "Sat, 29 Oct 1994 19:43:31 GMT"


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


def condition(call: Callable[[], Any]) -> str | None:
    with pytest.raises(ClientError) as excinfo:
        call()
    response = excinfo.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (
        412,
        "PreconditionFailed",
    )
    return response["Error"].get("Condition")


def test_copies_and_completes_name_the_failed_condition(
    proxy: Proxy, backend: str, make_bucket: MakeBucket
) -> None:
    """test_copy_object_ifmatch_failed, test_copy_object_ifnonematch_good (status and code
    only there), and conditional writes by CompleteMultipartUpload: the header S3 names is the
    destination's (``If-Match``, ``If-None-Match``) or the source's
    (``x-amz-copy-source-If-Match`` …); UploadPartCopy names its source's too. Nothing is
    written: the destination keeps its bytes."""
    s3, bucket = proxy.client("alice"), make_bucket(["src", "dst"])
    etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    source = {"Bucket": bucket, "Key": "src"}
    copy = s3.copy_object
    cases: list[tuple[dict[str, Any], str]] = [
        ({"CopySourceIfMatch": '"bad"'}, "x-amz-copy-source-If-Match"),
        ({"CopySourceIfNoneMatch": etag}, "x-amz-copy-source-If-None-Match"),
        ({"CopySourceIfUnmodifiedSince": PAST}, "x-amz-copy-source-If-Unmodified-Since"),
        ({"IfNoneMatch": "*"}, "If-None-Match"),
        ({"IfMatch": '"bad"'}, "If-Match"),
        ({"IfMatch": '"bad"', "CopySourceIfMatch": etag}, "If-Match"),  # the source's holds
    ]
    for params, named in cases:
        got = condition(lambda: copy(Bucket=bucket, Key="dst", CopySource=source, **params))  # noqa: B023
        assert got == named, params
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"dst"

    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    try:
        part_copy = s3.upload_part_copy
        got = condition(
            lambda: part_copy(
                Bucket=bucket,
                Key="dst",
                UploadId=upload,
                PartNumber=1,
                CopySource=source,
                CopySourceIfMatch='"bad"',
            )
        )
        assert got == "x-amz-copy-source-If-Match"
        part = s3.upload_part(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=1, Body=b"p")
        parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
        with pytest.raises(ClientError) as excinfo:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="dst", UploadId=upload, MultipartUpload=parts, IfNoneMatch="*"
            )
        error = excinfo.value.response["Error"]
        if backend == "ceph":  # README: RGW 16 ignores it, so a conditional Complete is 501
            assert error["Code"] == "NotImplemented"
        else:
            assert (error["Code"], error.get("Condition")) == (
                "PreconditionFailed",
                "If-None-Match",
            )
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"dst"
