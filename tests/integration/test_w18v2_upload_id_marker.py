"""ListMultipartUploads with an ``upload-id-marker`` and no ``key-marker``: S3 ignores the
marker and lists from the start, and its answer's ``<UploadIdMarker>`` is empty (versitygw's
ListMultipartUploads_ignore_upload_id_marker, run against S3). The gateway listed from the
start too but echoed the marker, an answer naming a marker it never applied (wave 18, V2).
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


def test_an_ignored_upload_id_marker_is_not_echoed(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    bucket = "w18v2-id-marker"
    s3.create_bucket(Bucket=bucket)
    created = [
        s3.create_multipart_upload(Bucket=bucket, Key=f"obj{n}")["UploadId"] for n in range(3)
    ]
    try:
        for marker in (created[1], "invalid_uploadId_marker"):
            page = s3.list_multipart_uploads(Bucket=bucket, UploadIdMarker=marker)
            assert [u["UploadId"] for u in page["Uploads"]] == created  # from the start
            assert page.get("UploadIdMarker", "") == ""
        page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="obj0", UploadIdMarker=created[0])
        assert page["UploadIdMarker"] == created[0]  # applied with its key-marker: echoed
        assert [u["UploadId"] for u in page["Uploads"]] == created[1:]
    finally:
        for n, upload in enumerate(created):
            s3.abort_multipart_upload(Bucket=bucket, Key=f"obj{n}", UploadId=upload)
        s3.delete_bucket(Bucket=bucket)
