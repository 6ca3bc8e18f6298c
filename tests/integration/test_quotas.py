"""Quotas (``tenants.NAME.quota``, ``bucket_quotas``) through a real proxy.

On the local store lane, where quotas are exact (concurrent writes stop at the limit); the
SeaweedFS and Ceph lanes are test_quotas_upstreams.py (shared usage records, two proxies).
Every refusal is followed by a read showing that nothing was stored.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    HOME_BUCKET,
    UPSTREAM,
    Proxy,
    client_for,
    proxy_settings,
    start_proxy,
)

pytestmark = pytest.mark.integration

TENANT_BYTES = 1000
SMALL_OBJECTS = 2
CAROL = ("AKCAROL0000000000003", "carol-secret-key-cccccccccccccccc")
"""A tenant with an object quota on her whole home (where the marks of open uploads are)."""


@pytest.fixture(scope="module")
def quota_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    tenants["alice"]["quota"] = {"max_bytes": TENANT_BYTES}
    tenants["alice"]["bucket_quotas"] = {"shared": {"max_objects": SMALL_OBJECTS}}
    tenants["carol"] = {
        "keys": [{"access_key": CAROL[0], "secret_key": CAROL[1]}],
        "home": {"upstream": UPSTREAM, "bucket": HOME_BUCKET},
        "quota": {"max_objects": SMALL_OBJECTS},
    }
    workdir = tmp_path_factory.mktemp("quotas-local")
    running = start_proxy(None, None, workdir, tenants=tenants)
    try:
        yield running
    finally:
        running.process.stop()


def refused(call: Any) -> None:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "QuotaExceeded"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def absent(client: Any, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as error:
        client.head_object(Bucket=bucket, Key=key)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def writes_over_quota_store_nothing(client: Any) -> tuple[str, dict[str, Any]]:
    """With 400 bytes of room left in "docs" (and "docs/a" bigger than that): a PUT, an
    UploadPart (parts count from the moment they are stored) and a CopyObject over the quota
    are 403 QuotaExceeded, and none of them leaves an object or a part. A part of 201 bytes
    then fits: (the upload's UploadId, its parts) for a Complete, which adds no byte."""
    refused(lambda: client.put_object(Bucket="docs", Key="b", Body=b"b" * 401))
    absent(client, "docs", "b")

    upload = client.create_multipart_upload(Bucket="docs", Key="m")["UploadId"]
    refused(
        lambda: client.upload_part(
            Bucket="docs", Key="m", UploadId=upload, PartNumber=1, Body=b"m" * 401
        )
    )
    assert "Parts" not in client.list_parts(Bucket="docs", Key="m", UploadId=upload)
    part = client.upload_part(
        Bucket="docs", Key="m", UploadId=upload, PartNumber=1, Body=b"m" * 201
    )
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    absent(client, "docs", "m")

    refused(lambda: client.copy_object(Bucket="docs", Key="c", CopySource="docs/a"))
    absent(client, "docs", "c")
    return upload, parts


def usage(proxy: Proxy, tenant: str = "alice") -> dict[str, Any]:
    with urllib.request.urlopen(f"{proxy.admin_endpoint}/usage?tenant={tenant}") as answer:
        report: dict[str, Any] = json.load(answer)["tenants"][tenant]
    return report


def test_quotas_on_the_local_store(quota_proxy: Proxy) -> None:
    client = quota_proxy.client("alice")
    client.put_object(Bucket="docs", Key="a", Body=b"a" * 600)

    upload, parts = writes_over_quota_store_nothing(client)

    report = usage(quota_proxy)
    assert (report["objects"], report["bytes"], report["upload_bytes"]) == (1, 801, 201)
    assert report["quota"] == {"max_bytes": TENANT_BYTES, "max_objects": None}

    client.put_object(Bucket="docs", Key="a", Body=b"a" * 599)  # an overwrite: 600 → 599
    client.delete_object(Bucket="docs", Key="a")  # a delete frees room
    client.complete_multipart_upload(Bucket="docs", Key="m", UploadId=upload, MultipartUpload=parts)
    client.copy_object(Bucket="docs", Key="c", CopySource="docs/m")
    assert (usage(quota_proxy)["objects"], usage(quota_proxy)["bytes"]) == (2, 402)
    client.delete_objects(Bucket="docs", Delete={"Objects": [{"Key": "m"}, {"Key": "c"}]})
    assert usage(quota_proxy)["bytes"] == 0


def test_a_bucket_quota_counts_objects(quota_proxy: Proxy) -> None:
    client = quota_proxy.client("alice")
    for key in ("one", "two"):
        client.put_object(Bucket="shared", Key=key, Body=b"")
    refused(lambda: client.put_object(Bucket="shared", Key="three", Body=b""))
    absent(client, "shared", "three")
    client.put_object(Bucket="shared", Key="two", Body=b"again")  # an overwrite adds none
    assert usage(quota_proxy)["buckets"]["shared"]["objects"] == SMALL_OBJECTS
    bob = quota_proxy.client("bob")  # bob has no quota: the shared name is his own bucket
    for key in ("one", "two", "three"):
        bob.put_object(Bucket="shared", Key=key, Body=b"")
    client.delete_objects(Bucket="shared", Delete={"Objects": [{"Key": "one"}, {"Key": "two"}]})


def test_concurrent_writes_stop_at_the_limit(quota_proxy: Proxy) -> None:
    """Early checks made side by side may each see room; the commit lets in only what fits."""
    client = quota_proxy.client("alice")

    def write(number: int) -> bool:
        try:
            client.put_object(Bucket="docs", Key=f"race/{number}", Body=b"r" * 300)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "QuotaExceeded"
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        stored = sum(pool.map(write, range(16)))
    assert stored == TENANT_BYTES // 300
    assert usage(quota_proxy)["bytes"] == stored * 300

    stats = subprocess.run(
        [sys.executable, "-m", "s3proxy", "stats", "--config", str(quota_proxy.config_path),
         "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    tenants = json.loads(stats.stdout)["tenants"]
    assert tenants["alice"]["bytes"] == stored * 300
    assert tenants["alice"]["max_bytes"] == TENANT_BYTES


def test_an_open_public_upload_counts_no_object(quota_proxy: Proxy) -> None:
    """An open public-read multipart upload keeps a mark in the tenant's home (its ACL for
    Complete); like every gateway record it counts nothing: a tenant object quota can be
    filled exactly while it is open, and the completed upload is the one object counted."""
    carol = client_for(quota_proxy.endpoint, *CAROL)
    carol.create_bucket(Bucket="carol-b")
    upload = carol.create_multipart_upload(Bucket="carol-b", Key="big", ACL="public-read")
    upload_id = upload["UploadId"]
    for key in ("one", "two"):
        carol.put_object(Bucket="carol-b", Key=key, Body=b"x")
    assert (usage(quota_proxy, "carol")["objects"]) == SMALL_OBJECTS
    refused(lambda: carol.put_object(Bucket="carol-b", Key="three", Body=b""))

    part = carol.upload_part(
        Bucket="carol-b", Key="big", UploadId=upload_id, PartNumber=1, Body=b"p"
    )
    carol.delete_object(Bucket="carol-b", Key="two")
    carol.complete_multipart_upload(
        Bucket="carol-b", Key="big", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert usage(quota_proxy, "carol")["objects"] == SMALL_OBJECTS
    grants = carol.get_object_acl(Bucket="carol-b", Key="big")["Grants"]
    assert any(grant["Grantee"].get("URI", "").endswith("/AllUsers") for grant in grants)
