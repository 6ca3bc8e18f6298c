"""A CompleteMultipartUpload that leaves a stored part out (wave 13, F2).

S3 completes from the parts listed and frees the others. Ceph RGW 16 answers InvalidPart to
any Complete that does not list every stored part, which told the client a right part was
wrong: the gateway answers 501 NotImplemented there instead (s3proxy.backends.complete_left_out),
and the upload stays as it was. SeaweedFS and the local store complete it as S3 does.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

BUCKET = "w13f2-left-out"
FIRST = b"1" * (5 * 1024 * 1024)  # S3's smallest part but the last


def _error(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_complete_leaving_a_part_out(proxy: Proxy, backend: str) -> None:
    client = proxy.client("alice")
    try:
        client.create_bucket(Bucket=BUCKET)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    etags = [
        client.upload_part(Bucket=BUCKET, Key="k", UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, FIRST), (2, b"second part"))
    ]

    def complete(*parts: tuple[int, str]) -> Any:
        listed = [{"PartNumber": n, "ETag": etag} for n, etag in parts]
        return client.complete_multipart_upload(
            Bucket=BUCKET, Key="k", UploadId=upload, MultipartUpload={"Parts": listed}
        )

    # A wrong ETag is InvalidPart on every lane: the upstream's answer where it is right.
    assert _error(lambda: complete((1, '"00000000000000000000000000000000"'))) == (
        400,
        "InvalidPart",
    )
    if backend != "ceph":
        complete((1, etags[0]))
        assert client.get_object(Bucket=BUCKET, Key="k")["Body"].read() == FIRST
        return
    # Ceph RGW 16 cannot leave a part out: refused exactly, never "your part is wrong".
    assert _error(lambda: complete((1, etags[0]))) == (501, "NotImplemented")
    assert _error(lambda: complete((2, etags[1]))) == (501, "NotImplemented")
    # Nothing was written and the upload is intact: completed with every part.
    assert _error(lambda: client.head_object(Bucket=BUCKET, Key="k"))[0] == 404
    complete((1, etags[0]), (2, etags[1]))
    body = client.get_object(Bucket=BUCKET, Key="k")["Body"].read()
    assert body == FIRST + b"second part"
