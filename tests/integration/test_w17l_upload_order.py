"""ListMultipartUploads lists the uploads of one key oldest first, and pages by them (wave 17 L).

AWS: "uploads are sorted in ascending order within each key by the upload initiation time";
NextUploadIdMarker names the last upload of a page, after which the next page resumes.
SeaweedFS 4.48 and Ceph RGW 16 list the uploads of one key by upload id (random), and the proxy
passed that order on; the local store listed by initiation. SeaweedFS dates an upload to the
second only, so there the uploads of one second keep upload-id order among themselves.

A client that aborts each upload as it pages (MaxUploads=1) sends the id of an upload it has
just aborted as the next page's marker: the local store then skipped that key's remaining
uploads, and an upstream's id order would skip those of smaller ids once the order is by time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(proxy: Proxy) -> Iterator[str]:
    alice = proxy.client("alice")
    name = f"w17l-order-{os.urandom(4).hex()}"
    alice.create_bucket(Bucket=name)
    yield name
    for page in alice.get_paginator("list_multipart_uploads").paginate(Bucket=name):
        for upload in page.get("Uploads", []):
            alice.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    alice.delete_bucket(Bucket=name)


def _listed(alice: Any, bucket: str, size: int) -> list[tuple[str, Any]]:
    pages = alice.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": size}
    )
    return [(u["UploadId"], u["Initiated"]) for page in pages for u in page.get("Uploads", [])]


def test_uploads_of_one_key_are_listed_oldest_first(
    proxy: Proxy, backend: str, bucket: str
) -> None:
    alice = proxy.client("alice")
    created = [alice.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"] for _ in range(3)]
    if backend == "seaweedfs":  # dated to the second there: the next three in another second
        time.sleep(1.05 - time.time() % 1)
    created += [alice.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"] for _ in range(3)]
    for size in (1000, 1, 2):  # whole, and paged by the upload-id marker
        listed = _listed(alice, bucket, size)
        assert sorted(upload for upload, _ in listed) == sorted(created), size
        times = [initiated for _, initiated in listed]
        assert times == sorted(times), size
        if backend == "seaweedfs":
            first = {upload for upload, initiated in listed if initiated == times[0]}
            assert first == set(created[:3]), size
        else:
            assert [upload for upload, _ in listed] == created, size


def test_aborting_each_upload_while_paging_aborts_them_all(proxy: Proxy, bucket: str) -> None:
    alice = proxy.client("alice")
    created = {alice.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in "ddde"}
    aborted: list[str] = []
    params: dict[str, Any] = {"Bucket": bucket, "MaxUploads": 1}
    for _ in range(10):
        page = alice.list_multipart_uploads(**params)
        for upload in page.get("Uploads", []):
            alice.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            aborted.append(upload["UploadId"])
        if not page["IsTruncated"]:
            break
        params["KeyMarker"] = page["NextKeyMarker"]
        params["UploadIdMarker"] = page["NextUploadIdMarker"]
    assert sorted(aborted) == sorted(created)
    assert "Uploads" not in alice.list_multipart_uploads(Bucket=bucket)
