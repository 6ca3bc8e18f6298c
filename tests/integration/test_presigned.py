"""Presigned URLs (boto3's default SigV2 query auth and s3v4) and SigV2 header auth, fetched
with a plain HTTP client as a browser or curl would."""

from __future__ import annotations

import datetime
import http.client
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, start_proxy
from tests.support.processes import SeaweedFS

pytestmark = pytest.mark.integration


def presigner(proxy: Proxy, signature_version: str | None) -> Any:
    ak, sk = proxy.keys("alice")
    config = Config(s3={"addressing_style": "path"})
    if signature_version is not None:
        config = config.merge(Config(signature_version=signature_version))
    return boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        config=config,
    )


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    """A plain HTTP request with no headers beyond Host and Content-Length, like curl's."""
    split = urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
    try:
        connection.request(method, f"{split.path}?{split.query}", body=data)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("version", [None, "s3v4"], ids=["boto3-default-v2", "s3v4"])
def test_presigned_get_and_put(proxy: Proxy, version: str | None) -> None:
    s3 = presigner(proxy, version)
    key = f"presigned/{version or 'default'}/a b+c.txt"
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "docs", "Key": key}, ExpiresIn=300
    )
    assert fetch(put_url, "PUT", b"uploaded by url")[0] == 200
    get_url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": "docs", "Key": key, "ResponseContentType": "text/x-test"},
        ExpiresIn=300,
    )
    status, body = fetch(get_url)
    assert (status, body) == (200, b"uploaded by url")
    with urllib.request.urlopen(get_url, timeout=30) as response:
        assert response.headers["Content-Type"] == "text/x-test"
    tampered = get_url.replace("text%2Fx-test", "text%2Fhtml")
    assert tampered != get_url
    status, body = fetch(tampered)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_expired_url_is_refused(proxy: Proxy) -> None:
    proxy.client("alice").put_object(Bucket="docs", Key="presigned/old", Body=b"x")
    ak, sk = proxy.keys("alice")
    # Sign with a clock two hours back instead of waiting for a URL to expire.
    request = AWSRequest(method="GET", url=f"{proxy.endpoint}/docs/presigned/old")
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: past.replace(tzinfo=None)
    try:
        S3SigV4QueryAuth(Credentials(ak, sk), "s3", "us-east-1", expires=60).add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    status, body = fetch(request.url)
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body


def test_sigv2_header_auth_client(proxy: Proxy) -> None:
    ak, sk = proxy.keys("alice")
    s3 = boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        config=Config(signature_version="s3", s3={"addressing_style": "path"}),
    )
    s3.put_object(Bucket="docs", Key="v2/object", Body=b"signed the old way", Metadata={"a": "b"})
    got = s3.get_object(Bucket="docs", Key="v2/object")
    assert got["Body"].read() == b"signed the old way"
    assert got["Metadata"] == {"a": "b"}
    assert [o["Key"] for o in s3.list_objects(Bucket="docs", Prefix="v2/")["Contents"]] == [
        "v2/object"
    ]


def test_sigv2_can_be_turned_off(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Any
) -> None:
    strict = start_proxy(seaweed, upstream_s3, tmp_path, server={"signature_v2": False})
    try:
        ak, sk = strict.keys("alice")
        v2 = boto3.client(
            "s3",
            endpoint_url=strict.endpoint,
            aws_access_key_id=ak,
            aws_secret_access_key=sk,
            region_name="us-east-1",
            config=Config(signature_version="s3"),
        )
        with pytest.raises(ClientError) as caught:
            v2.list_buckets()
        assert caught.value.response["Error"]["Code"] == "InvalidRequest"
        assert strict.client("alice").list_buckets()["Buckets"] is not None
    finally:
        strict.process.stop()
