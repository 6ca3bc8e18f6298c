"""An If-Match ETag that lacks one of its quotes matches on every lane (wave 17, K).

S3 takes an If-Match ETag without its opening quote (moto's AWS-verified conditional PUT test:
``etag[1:]`` writes), as the local store and SeaweedFS behind the gateway do, and they take one
without its closing quote too, on writes, reads and copy sources. Ceph RGW 16 answered 412 to
``"<etag>`` (no closing quote) for the object's own ETag: on a PUT, which it compares with its
unquoted ETag (s3proxy/backends/upstream_kind.py if_match_for now sends it bare), and on GET,
HEAD, CopyObject's and UploadPartCopy's source (s3proxy/conditions.py quoted_etag now sends it
quoted).
"""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


def test_an_if_match_etag_missing_one_quote_matches_on_every_lane(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = f"w17k-quotes/{uuid.uuid4().hex}"
    etag = s3.put_object(Bucket="docs", Key=key, Body=b"one")["ETag"]
    for number, cut in enumerate((slice(1, None), slice(None, -1)), start=2):
        body = b"v%d" % number
        etag = s3.put_object(Bucket="docs", Key=key, Body=body, IfMatch=etag[cut])["ETag"]
        assert s3.get_object(Bucket="docs", Key=key)["Body"].read() == body
    s3.delete_object(Bucket="docs", Key=key)


def test_reads_and_copy_sources_match_an_etag_missing_its_closing_quote(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = f"w17k-quotes/{uuid.uuid4().hex}"
    half = s3.put_object(Bucket="docs", Key=key, Body=b"source")["ETag"][:-1]
    assert s3.get_object(Bucket="docs", Key=key, IfMatch=half)["Body"].read() == b"source"
    assert s3.head_object(Bucket="docs", Key=key, IfMatch=half)["ContentLength"] == 6
    source = {"Bucket": "docs", "Key": key}
    s3.copy_object(Bucket="docs", Key=key + "-copy", CopySource=source, CopySourceIfMatch=half)
    upload = s3.create_multipart_upload(Bucket="docs", Key=key + "-copy")["UploadId"]
    try:
        s3.upload_part_copy(
            Bucket="docs",
            Key=key + "-copy",
            UploadId=upload,
            PartNumber=1,
            CopySource=source,
            CopySourceIfMatch=half,
        )
    finally:
        s3.abort_multipart_upload(Bucket="docs", Key=key + "-copy", UploadId=upload)
    s3.delete_objects(Bucket="docs", Delete={"Objects": [{"Key": key}, {"Key": key + "-copy"}]})
