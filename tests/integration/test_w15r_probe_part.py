"""Wave 15 R: the one-time probe that learns whether an upstream's part copies answer the
MD5 of their bytes (:mod:`s3proxy.backends.s3_copy_learning`) must not change a client's part
when the copy it runs for then fails.

The probe copies the source's first byte into the very part the client's UploadPartCopy names,
trusting the copy that follows to replace it. When that copy fails (a ``x-amz-copy-source-range``
past the source's end: S3 refuses it and leaves the part as it was), the client's part held one
byte of another object: ListParts showed it, and a Complete naming the part's own ETag was
InvalidPart where S3 completes it. Ceph RGW 16 (no ``Server`` header) is probed so on the
first part copy of every process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.integration.relayed import relayed_proxy, upstream_lanes

pytestmark = pytest.mark.integration

BUCKET = "w15r-probe"


@pytest.fixture(scope="module", params=[lane for lane in upstream_lanes() if lane == "ceph"])
def unknown(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A fresh one-worker proxy on Ceph RGW 16, whose part copies it does not know yet."""
    with relayed_proxy(request, tmp_path_factory, "w15r", BUCKET) as (running, _, _):
        yield running


def test_a_part_copy_that_fails_leaves_the_client_s_part_as_it_was(unknown: Proxy) -> None:
    client = unknown.client("alice")
    client.put_object(Bucket=BUCKET, Key="src", Body=os.urandom(100))
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="dst")["UploadId"]
    body = os.urandom(1000)
    etag = client.upload_part(Bucket=BUCKET, Key="dst", UploadId=upload, PartNumber=1, Body=body)[
        "ETag"
    ]
    with pytest.raises(ClientError) as refused:
        client.upload_part_copy(
            Bucket=BUCKET, Key="dst", UploadId=upload, PartNumber=1,
            CopySource={"Bucket": BUCKET, "Key": "src"}, CopySourceRange="bytes=200-299",
        )  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"  # S3: a range past the end
    parts = client.list_parts(Bucket=BUCKET, Key="dst", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etag, 1000)]
    client.complete_multipart_upload(
        Bucket=BUCKET, Key="dst", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )  # fmt: skip
    assert client.get_object(Bucket=BUCKET, Key="dst")["Body"].read() == body
