"""DeleteBucket with multipart uploads in progress: S3 deletes the bucket and its uploads.

S3 refuses to delete a bucket holding objects (409 BucketNotEmpty) but not one whose only
content is uploads in progress (ceph/ceph PR 15630, scality/cloudserver PR 1591; ``aws s3 rb
--force`` relies on it). Checked on every lane, and on the S3 lanes against the upstream
itself: nothing of the bucket is left under its root or in the tenant's ``.uploads/`` records.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import HOME_BUCKET, Proxy
from tests.integration.test_awscli import aws_executable
from tests.support.clients import clean_env

pytestmark = pytest.mark.integration

PART = b"p" * (5 * 1024 * 1024)


def failure(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], str(response["Error"]["Code"])


def _upstream_names(upstream: Any, prefix: str) -> list[str]:
    names: list[str] = []
    for page in upstream.get_paginator("list_objects_v2").paginate(
        Bucket=HOME_BUCKET, Prefix=prefix
    ):
        names += [item["Key"] for item in page.get("Contents", [])]
    return [name for name in names if name != prefix]  # SeaweedFS lists a directory itself


def _start_uploads(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Three uploads with a part each: plain, with a checksum (records on S3 upstreams), and
    with tags and a public ACL (the proxy's marks on every lane)."""
    uploads = []
    for key, extra in (
        ("plain/a", {}),
        ("sum/b", {"ChecksumAlgorithm": "CRC32"}),
        ("marked/c", {"Tagging": "t=1", "ACL": "public-read"}),
    ):
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
        ids = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        part_extra = {"ChecksumAlgorithm": "CRC32"} if extra.get("ChecksumAlgorithm") else {}
        etag = s3.upload_part(**ids, PartNumber=1, Body=PART, **part_extra)["ETag"]
        uploads.append({**ids, "ETag": etag})
    return uploads


def test_uploads_in_progress_go_with_their_bucket(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    name = "rb-uploads-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    uploads = _start_uploads(s3, name)
    assert len(s3.list_multipart_uploads(Bucket=name).get("Uploads", [])) == 3

    answer = s3.delete_bucket(Bucket=name)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        s3.head_bucket(Bucket=name)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    if proxy.upstream is not None:  # the upstream itself: nothing of the bucket left
        root = f"alice/{name}/"
        assert _upstream_names(proxy.upstream, root) == []
        assert _upstream_names(proxy.upstream, f"alice/.uploads/{name}/") == []
        listed = proxy.upstream.list_multipart_uploads(Bucket=HOME_BUCKET, Prefix=root)
        assert listed.get("Uploads", []) == []

    s3.create_bucket(Bucket=name)  # the name again: none of the old uploads is there
    try:
        assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
        for upload in uploads:
            ids = {key: upload[key] for key in ("Bucket", "Key", "UploadId")}
            with pytest.raises(ClientError) as caught:
                s3.upload_part(**ids, PartNumber=2, Body=b"late")
            assert failure(caught) == (404, "NoSuchUpload")
            with pytest.raises(ClientError) as caught:
                s3.complete_multipart_upload(
                    **ids, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": upload["ETag"]}]}
                )
            assert failure(caught) == (404, "NoSuchUpload")
        assert s3.list_objects_v2(Bucket=name).get("KeyCount") == 0
    finally:
        s3.delete_bucket(Bucket=name)


def test_a_bucket_with_an_object_keeps_its_uploads(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    name = "rb-busy-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="kept", Body=b"object")
    upload_id = s3.create_multipart_upload(Bucket=name, Key="pending")["UploadId"]
    ids = {"Bucket": name, "Key": "pending", "UploadId": upload_id}
    etag = s3.upload_part(**ids, PartNumber=1, Body=b"last part")["ETag"]

    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket=name)
    assert failure(caught) == (409, "BucketNotEmpty")

    s3.complete_multipart_upload(
        **ids, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert s3.get_object(Bucket=name, Key="pending")["Body"].read() == b"last part"
    for key in ("kept", "pending"):
        s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)


def test_a_mapped_bucket_with_uploads_is_not_deleted(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    upload_id = s3.create_multipart_upload(Bucket="alice-photos", Key="rb/mapped")["UploadId"]
    ids = {"Bucket": "alice-photos", "Key": "rb/mapped", "UploadId": upload_id}
    try:
        with pytest.raises(ClientError) as caught:
            s3.delete_bucket(Bucket="alice-photos")
        assert failure(caught) == (403, "AccessDenied")
        assert s3.list_parts(**ids)["UploadId"] == upload_id
    finally:
        s3.abort_multipart_upload(**ids)


def test_aws_s3_rb_force_removes_a_bucket_with_an_upload_in_progress(
    proxy: Proxy, tmp_path: Path
) -> None:
    """``aws s3 rb --force``: deletes every object, then DeleteBucket, uploads or not."""
    s3 = proxy.client("alice")
    name = "rb-force-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="an/object", Body=b"x")
    s3.create_multipart_upload(Bucket=name, Key="an/upload")
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")
    ak, sk = proxy.keys("alice")
    env = clean_env()
    env.update(
        AWS_ACCESS_KEY_ID=ak,
        AWS_SECRET_ACCESS_KEY=sk,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    command = [aws_executable(), "--endpoint-url", proxy.endpoint, "s3", "rb", "--force"]
    result = subprocess.run(
        [*command, f"s3://{name}"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert name not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
