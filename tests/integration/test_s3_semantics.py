"""Small S3 semantics clients notice, on every lane (issue 16 item 5): ListObjects V1 leaves its
top-level Prefix unencoded, an empty continuation-token is no token, re-creating your own
bucket is 200 in us-east-1 and 409 elsewhere, empty metadata values and header values with
their spacing survive a round trip, and a SigV2 presigned URL is valid for 7 days at most."""

from __future__ import annotations

import http.client
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, start_proxy
from tests.support.s3http import object_url, sign, signed

pytestmark = pytest.mark.integration

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def listing(proxy: Proxy, query: str) -> ET.Element:
    ak, sk = proxy.keys("alice")
    response = signed("GET", object_url(proxy.endpoint, "docs", query=query), ak, sk)
    assert response.status == 200, response.body
    return ET.fromstring(response.body)


class TestListings:
    def test_v1_leaves_the_top_level_prefix_unencoded(self, proxy: Proxy) -> None:
        """What AWS does, and what botocore expects: it decodes Marker, NextMarker, Delimiter
        and keys of a V1 answer, never its Prefix."""
        prefix = "sem v1/é\n"
        s3 = proxy.client("alice")
        key = prefix + "a b"
        s3.put_object(Bucket="docs", Key=key, Body=b"x")
        try:
            v1 = s3.list_objects(Bucket="docs", Prefix=prefix)  # botocore asks for url encoding
            assert v1["Prefix"] == prefix
            assert [item["Key"] for item in v1["Contents"]] == [key]
            v2 = s3.list_objects_v2(Bucket="docs", Prefix=prefix)  # V2 encodes, botocore decodes
            assert v2["Prefix"] == prefix
            raw = listing(proxy, f"encoding-type=url&prefix={quote(prefix, safe='')}")
            assert raw.findtext(f"{NS}Prefix") == prefix
            assert raw.findtext(f"{NS}Contents/{NS}Key") == quote(key, safe="/")
        finally:
            s3.delete_object(Bucket="docs", Key=key)

    def test_an_empty_continuation_token_is_no_token(self, proxy: Proxy) -> None:
        s3 = proxy.client("alice")
        keys = [f"sem-token/{n}" for n in range(3)]
        for key in keys:
            s3.put_object(Bucket="docs", Key=key, Body=b"x")
        try:
            page = listing(proxy, "list-type=2&prefix=sem-token%2F&continuation-token=")
            assert [e.text for e in page.iter(f"{NS}Key")] == keys
            echoed = page.find(f"{NS}ContinuationToken")  # echoed as sent, as S3 does
            assert echoed is not None and not echoed.text
        finally:
            for key in keys:
                s3.delete_object(Bucket="docs", Key=key)


class TestOwnBucketRecreate:
    def test_us_east_1_answers_200_and_keeps_the_bucket(self, proxy: Proxy) -> None:
        s3 = proxy.client("alice")
        name = "recreate-" + os.urandom(4).hex()
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="k", Body=b"kept")
        try:
            answer = s3.create_bucket(Bucket=name)
            assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert answer["Location"] == f"/{name}"
            assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"kept"
            mapped = s3.create_bucket(Bucket="alice-photos")  # a configured bucket: also yours
            assert mapped["ResponseMetadata"]["HTTPStatusCode"] == 200
        finally:
            s3.delete_object(Bucket=name, Key="k")
            s3.delete_bucket(Bucket=name)

    def test_another_tenants_bucket_is_still_refused(self, proxy: Proxy) -> None:
        with pytest.raises(ClientError) as caught:
            proxy.client("alice").create_bucket(Bucket="bob-only")
        assert caught.value.response["Error"]["Code"] == "BucketAlreadyExists"


@pytest.fixture(scope="module")
def eu_proxy(proxy: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The same lane served as eu-west-1."""
    work: Path = tmp_path_factory.mktemp("eu-proxy")
    running = start_proxy(proxy.server, proxy.upstream, work, server={"region": "eu-west-1"})
    try:
        yield running
    finally:
        running.process.stop()


def test_other_regions_answer_bucket_already_owned_by_you(eu_proxy: Proxy) -> None:
    s3 = eu_proxy.client("alice")
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket="docs")
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        409,
        "BucketAlreadyOwnedByYou",
    )


class TestValuesKeptAsSent:
    def test_empty_metadata_values_survive(self, proxy: Proxy) -> None:
        s3 = proxy.client("alice")
        key = "sem-meta/" + os.urandom(4).hex()
        s3.put_object(Bucket="docs", Key=key, Body=b"x", Metadata={"empty": "", "full": "v"})
        try:
            assert s3.head_object(Bucket="docs", Key=key)["Metadata"] == {"empty": "", "full": "v"}
            got = s3.get_object(Bucket="docs", Key=key)
            assert got["Metadata"] == {"empty": "", "full": "v"}
            copy = key + "-copy"
            s3.copy_object(Bucket="docs", Key=copy, CopySource={"Bucket": "docs", "Key": key})
            assert s3.head_object(Bucket="docs", Key=copy)["Metadata"] == {"empty": "", "full": "v"}
            s3.delete_object(Bucket="docs", Key=copy)
        finally:
            s3.delete_object(Bucket="docs", Key=key)

    def test_empty_metadata_values_survive_a_multipart_upload(self, proxy: Proxy) -> None:
        s3 = proxy.client("alice")
        key = "sem-meta/multipart-" + os.urandom(4).hex()
        upload = s3.create_multipart_upload(Bucket="docs", Key=key, Metadata={"empty": ""})
        part = s3.upload_part(
            Bucket="docs", Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x"
        )
        s3.complete_multipart_upload(
            Bucket="docs",
            Key=key,
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        try:
            assert s3.head_object(Bucket="docs", Key=key)["Metadata"] == {"empty": ""}
        finally:
            s3.delete_object(Bucket="docs", Key=key)

    def test_a_list_value_keeps_its_spacing(self, proxy: Proxy) -> None:
        s3 = proxy.client("alice")
        key = "sem-encoding/" + os.urandom(4).hex()
        s3.put_object(Bucket="docs", Key=key, Body=b"x", ContentEncoding="deflate, gzip")
        try:
            assert s3.head_object(Bucket="docs", Key=key)["ContentEncoding"] == "deflate, gzip"
        finally:
            s3.delete_object(Bucket="docs", Key=key)

    def test_repeated_header_lines_are_joined_as_http_joins_them(self, proxy: Proxy) -> None:
        """Two Content-Encoding lines: the signature covers them joined with "," (SigV4's
        canonical form), the object keeps them joined with ", " (RFC 9110's combination)."""
        ak, sk = proxy.keys("alice")
        key = "sem-encoding/lines-" + os.urandom(4).hex()
        url = object_url(proxy.endpoint, "docs", key)
        headers = sign("PUT", url, ak, sk, {"Content-Encoding": "deflate,gzip"}, b"x")
        headers.pop("Content-Encoding")
        split = urlsplit(url)
        connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
        try:
            connection.putrequest("PUT", split.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.putheader("Content-Encoding", "deflate")
            connection.putheader("Content-Encoding", "gzip")
            connection.putheader("Content-Length", "1")
            connection.endheaders(b"x")
            response = connection.getresponse()
            assert response.status == 200, response.read()
        finally:
            connection.close()
        s3 = proxy.client("alice")
        try:
            assert s3.head_object(Bucket="docs", Key=key)["ContentEncoding"] == "deflate, gzip"
        finally:
            s3.delete_object(Bucket="docs", Key=key)


def _v2_presigner(proxy: Proxy) -> Any:
    ak, sk = proxy.keys("alice")
    return boto3.client(  # boto3's default presigner: SigV2 query auth
        "s3",
        endpoint_url=proxy.endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.mark.parametrize(
    ("expires_in", "status"), [(604800, 200), (604800 + 3600, 403), (10 * 365 * 86400, 403)]
)
def test_sigv2_presigned_urls_last_7_days_at_most(
    proxy: Proxy, expires_in: int, status: int
) -> None:
    proxy.client("alice").put_object(Bucket="docs", Key="sem-presign", Body=b"shared")
    url = _v2_presigner(proxy).generate_presigned_url(
        "get_object", Params={"Bucket": "docs", "Key": "sem-presign"}, ExpiresIn=expires_in
    )
    assert "AWSAccessKeyId=" in url  # SigV2, not SigV4
    split = urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=30)
    try:
        connection.request("GET", f"{split.path}?{split.query}")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == status
    if status == 200:
        assert body == b"shared"
    else:
        assert ET.fromstring(body).findtext("Code") == "AccessDenied"
