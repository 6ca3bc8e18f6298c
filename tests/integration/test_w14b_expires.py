"""An ``Expires`` that is not an HTTP date, a ``Cache-Control`` whose ``max-age`` is not a number,
are kept and answered back as sent (wave 14 B).

S3 keeps ``Expires`` as any text (the SDKs read it back with an ``ExpiresString`` fallback
because S3 returns what was sent), and ``Cache-Control`` too; so do Ceph RGW 16 and the local
store. SeaweedFS 4.48 refused the PutObject: 400 InvalidRequest unless ``Expires`` was an
IMF-fixdate, 400 InvalidDigest (a checksum error, for a header) for ``max-age=abc``. On every
lane now the value comes back byte for byte on HEAD and GET, for PutObject,
CreateMultipartUpload and copies, and stays out of the user metadata, where a client's own
``s3proxy-meta-expires`` name stays."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"
VALUES = [
    ("Expires", "5d"),
    ("Expires", "Thu, 01 Dec 2094 16:00:00 +0000"),
    ("Expires", "Thursday, 01-Dec-94 16:00:00 GMT"),
    ("Cache-Control", "no-cache, max-age=abc"),
]


def test_an_expires_or_cache_control_seaweedfs_refused_comes_back_as_sent(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    ak, sk = proxy.keys("alice")
    prefix = "w14b-expires/" + os.urandom(4).hex()
    for index, (name, value) in enumerate(VALUES):
        url = object_url(proxy.endpoint, BUCKET, f"{prefix}/put{index}")
        put = signed("PUT", url, ak, sk, {name: value, "x-amz-meta-a": "b"}, b"x")
        assert put.status == 200, (value, put.status, put.body)
        for method in ("HEAD", "GET"):
            got = signed(method, url, ak, sk)
            assert (got.status, got.header(name)) == (200, value), (method, value)
            assert [k for k, _ in got.headers if k.lower().startswith("x-amz-meta-")] == [
                "x-amz-meta-a"
            ]
    source = f"{prefix}/put0"
    url = object_url(proxy.endpoint, BUCKET, f"{prefix}/copy")
    copy = signed(
        "PUT", url, ak, sk,
        {"x-amz-copy-source": f"/{BUCKET}/{source}", "x-amz-metadata-directive": "REPLACE",
         "Expires": "never"},
    )  # fmt: skip
    assert copy.status == 200, copy.body
    assert signed("HEAD", url, ak, sk).header("Expires") == "never"
    kept = f"{prefix}/kept"
    s3.copy_object(Bucket=BUCKET, Key=kept, CopySource={"Bucket": BUCKET, "Key": source})
    assert s3.head_object(Bucket=BUCKET, Key=kept)["ExpiresString"] == "5d"
    url = object_url(proxy.endpoint, BUCKET, f"{prefix}/mp", "uploads")
    created = signed("POST", url, ak, sk, {"Expires": "in a week"})
    assert created.status == 200, created.body
    upload = created.body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    part = s3.upload_part(
        Bucket=BUCKET, Key=f"{prefix}/mp", UploadId=upload, PartNumber=1, Body=b"p"
    )
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=f"{prefix}/mp", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}/mp")
    assert (head["ExpiresString"], head["Metadata"]) == ("in a week", {})
    s3.put_object(
        Bucket=BUCKET, Key=f"{prefix}/meta", Body=b"m", Metadata={"s3proxy-meta-expires": "mine"}
    )
    head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}/meta")
    assert head["Metadata"] == {"s3proxy-meta-expires": "mine"}
    assert "ExpiresString" not in head
