"""ListParts pages and a Complete's parts listing in S3's numeric order on every lane.

SeaweedFS 4.48 pages ListParts in the string order of four-digit part names, so part 10000
sorts between 999 and 1000 (s3proxy.backends.part_order): a client paging ListParts there saw
part 10000 first and then lost parts 1000-9999 after NextPartNumberMarker=10000, and a Complete
of an upload of more than 1,000 parts (the gateway reads its parts 1,000 at a time) found
parts at or above 1000 missing: InvalidPart for a valid upload.
"""

from __future__ import annotations

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import HOME_BUCKET, Proxy, lanes, upstream_key

FIVE_MIB = 5 * 1024 * 1024


def _walk(client: Any, key: str, upload_id: str, most: int, marker: int = 0) -> list[list[int]]:
    """Every page a client reads following IsTruncated / NextPartNumberMarker."""
    pages: list[list[int]] = []
    while len(pages) < 20:
        answer = client.list_parts(
            Bucket="docs", Key=key, UploadId=upload_id, MaxParts=most, PartNumberMarker=marker
        )
        pages.append([part["PartNumber"] for part in answer.get("Parts", [])])
        if not answer["IsTruncated"]:
            return pages
        marker = answer["NextPartNumberMarker"]
    raise AssertionError(f"ListParts never ends: {pages}")


def test_list_parts_pages_part_10000_last(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = f"w15d2-{uuid.uuid4().hex}"
    upload_id = client.create_multipart_upload(Bucket="docs", Key=key)["UploadId"]
    try:
        for number in (1000, 1001, 10_000):
            client.upload_part(
                Bucket="docs", Key=key, UploadId=upload_id, PartNumber=number, Body=b"x"
            )
        assert _walk(client, key, upload_id, 1000) == [[1000, 1001, 10_000]]
        assert _walk(client, key, upload_id, 1) == [[1000], [1001], [10_000]]
        assert _walk(client, key, upload_id, 2) == [[1000, 1001], [10_000]]
        assert _walk(client, key, upload_id, 1000, marker=1000) == [[1001, 10_000]]
        assert _walk(client, key, upload_id, 1000, marker=9999) == [[10_000]]
    finally:
        client.abort_multipart_upload(Bucket="docs", Key=key, UploadId=upload_id)


@pytest.mark.skipif("seaweedfs" not in lanes(), reason="the SeaweedFS lane is not chosen")
def test_a_complete_finds_every_part_of_an_upload_past_1000_parts(
    lane_proxy_seaweedfs: Proxy, upstream_s3: Any
) -> None:
    """1,002 parts (999 of one byte below part 1000, which is 5 MiB, then 1001 and 10000): the
    Complete names 1000 and 10000, which the baseline's listing did not find (part 1000 sat on
    the page after marker 10000, which SeaweedFS answers empty). The one-byte parts go to the
    upstream upload directly (a thousand UploadParts through the gateway cost seconds of CI);
    the gateway's own listing is what is tested."""
    client = lane_proxy_seaweedfs.client("alice")
    key = f"w15d2-{uuid.uuid4().hex}"
    upload_id = client.create_multipart_upload(Bucket="docs", Key=key)["UploadId"]
    stored_key = upstream_key("alice", "docs", key)
    listed = upstream_s3.list_multipart_uploads(Bucket=HOME_BUCKET, Prefix=stored_key)
    (upstream_id,) = [u["UploadId"] for u in listed["Uploads"] if u["Key"] == stored_key]
    bodies = {1000: b"a" * FIVE_MIB, 10_000: b"tail"}
    etags = {
        number: str(
            client.upload_part(
                Bucket="docs", Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )["ETag"]
        )
        for number, body in bodies.items()
    }

    def filler(number: int) -> None:
        upstream_s3.upload_part(
            Bucket=HOME_BUCKET, Key=stored_key, UploadId=upstream_id, PartNumber=number, Body=b"."
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(filler, (*range(1, 1000), 1001)))
    try:
        named = [{"PartNumber": n, "ETag": etags[n]} for n in (1000, 10_000)]
        done = client.complete_multipart_upload(
            Bucket="docs", Key=key, UploadId=upload_id, MultipartUpload={"Parts": named}
        )
    except BaseException:
        client.abort_multipart_upload(Bucket="docs", Key=key, UploadId=upload_id)
        raise
    digests = b"".join(hashlib.md5(bodies[n]).digest() for n in (1000, 10_000))
    assert done["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-2"'
    stored = client.get_object(Bucket="docs", Key=key)["Body"].read()
    assert stored == bodies[1000] + bodies[10_000]
    client.delete_object(Bucket="docs", Key=key)
