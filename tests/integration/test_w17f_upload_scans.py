"""A ListMultipartUploads page asks SeaweedFS once, not once per shard (wave 17 F).

SeaweedFS reads every upload of its bucket for each ListMultipartUploads, whatever the prefix,
and the proxy asked it once per shard (16 here), more for a shard read in pieces
(s3proxy.backends.upload_scans). Now a page asks once for the bucket's root when that answer
holds every upload. Counted from the proxy's metrics (upstream requests), on the SeaweedFS lane
only: AWS S3, MinIO and Ceph RGW page uploads narrowly and are still asked per shard.
"""

from __future__ import annotations

import os

import pytest

from benchmarks.listing import upstream_requests
from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


def test_a_listing_page_asks_seaweedfs_once(proxy: Proxy, backend: str) -> None:
    if backend != "seaweedfs":
        pytest.skip("the other upstreams are listed per shard")
    alice = proxy.client("alice")
    bucket = f"w17f-scans-{os.urandom(4).hex()}"
    alice.create_bucket(Bucket=bucket)
    keys = ["a", "b/c", "d"]
    uploads = [alice.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in keys]
    try:
        spent = []
        for _ in range(4):  # the first may teach a worker the upstream's kind (two calls a shard)
            before = upstream_requests(proxy.admin_endpoint)
            page = alice.list_multipart_uploads(Bucket=bucket)
            spent.append(upstream_requests(proxy.admin_endpoint) - before)
            assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == list(
                zip(keys, uploads, strict=True)
            )
        # one ListMultipartUploads and one listing of the bucket's upload records; 17+ before
        assert min(spent) <= 2, spent
    finally:
        for key, upload in zip(keys, uploads, strict=True):
            alice.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        alice.delete_bucket(Bucket=bucket)
