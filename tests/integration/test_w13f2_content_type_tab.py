"""A Content-Type holding a tab is stored and served as sent (wave 13, F2).

Ceph RGW 16 failed its own signature check on such a value (403 SignatureDoesNotMatch), which
reached the client as the gateway's 500 InternalError blaming its configuration; the gateway
now leaves that Content-Type out of the upstream signature there
(s3proxy.backends.upstream_kind.signed_headers_for). Every write that sets one is checked:
PutObject, CopyObject with REPLACE and CreateMultipartUpload.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy

BUCKET = "w13f2-content-type"
TYPE = "text/plain;\tcharset=utf-8\t\tx"


def _served(client: Any, key: str) -> str:
    headers = client.head_object(Bucket=BUCKET, Key=key)["ResponseMetadata"]["HTTPHeaders"]
    return str(headers["content-type"])


def test_a_tab_in_content_type_is_kept(proxy: Proxy) -> None:
    client = proxy.client("alice")
    try:
        client.create_bucket(Bucket=BUCKET)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    client.put_object(Bucket=BUCKET, Key="put", Body=b"x", ContentType=TYPE)
    assert _served(client, "put") == TYPE
    client.copy_object(
        Bucket=BUCKET,
        Key="copy",
        CopySource={"Bucket": BUCKET, "Key": "put"},
        MetadataDirective="REPLACE",
        ContentType=TYPE + "\ty",
    )
    assert _served(client, "copy") == TYPE + "\ty"
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="mp", ContentType=TYPE)
    etag = client.upload_part(
        Bucket=BUCKET, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"y"
    )["ETag"]
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert _served(client, "mp") == TYPE
