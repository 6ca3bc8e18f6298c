"""Bucket CORS on every lane: Put/Get/DeleteBucketCors with boto3, and the browser flow as a
browser sends it (an unsigned OPTIONS preflight, then a presigned PUT and GET carrying Origin),
with raw requests so every header the browser reads is checked."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import HOME_BUCKET, Proxy
from tests.support.s3http import object_url, send, signed

pytestmark = pytest.mark.integration

APP = "https://app.example.com"
RULES = {
    "CORSRules": [
        {
            "ID": "uploads",
            "AllowedOrigins": ["https://*.example.com"],
            "AllowedMethods": ["PUT", "GET"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 600,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
    ]
}


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def error_code(body: bytes) -> str | None:
    import xml.etree.ElementTree as ET

    return ET.fromstring(body).findtext("Code") if body else None


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    name = "cors-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def preflight(
    proxy: Proxy, url: str, origin: str | None, method: str | None, headers: str | None = None
) -> Any:
    sent = {"Host": proxy.host}
    if origin is not None:
        sent["Origin"] = origin
    if method is not None:
        sent["Access-Control-Request-Method"] = method
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return send("OPTIONS", url, sent)


def test_put_get_delete_bucket_cors(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_cors(Bucket=bucket)
    assert code_of(missing) == "NoSuchCORSConfiguration"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_cors(Bucket=bucket)
    assert code_of(gone) == "NoSuchCORSConfiguration"


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest"),
        ([{"AllowedOrigins": ["https://*.*.com"], "AllowedMethods": ["GET"]}], "InvalidRequest"),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML"),
        ([], "MalformedXML"),
    ],
)
def test_configurations_s3_refuses_are_refused(
    proxy: Proxy, bucket: str, rules: list[Any], code: str
) -> None:
    s3 = proxy.client("alice")
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert code_of(refused) == code
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)  # nothing was stored


def test_a_put_without_content_md5_or_checksum_is_refused(proxy: Proxy, bucket: str) -> None:
    body = (
        b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
        b"<AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>"
    )
    answer = signed("PUT", object_url(proxy.endpoint, bucket, query="cors"), *proxy.keys("alice"),
                    body=body)  # fmt: skip
    assert (answer.status, answer.error_code) == (400, "InvalidRequest")


def test_the_browser_flow_preflight_then_presigned_put_and_get(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pic.txt", "ContentType": "text/plain"}
    )
    allowed = preflight(proxy, put_url, APP, "PUT", "content-type")
    assert allowed.status == 200, allowed.body
    assert allowed.header("Access-Control-Allow-Origin") == APP
    assert allowed.header("Access-Control-Allow-Methods") == "PUT, GET"
    assert allowed.header("Access-Control-Allow-Headers") == "content-type"
    assert allowed.header("Access-Control-Max-Age") == "600"
    assert "Origin" in (allowed.header("Vary") or "")

    put = send(
        "PUT",
        put_url,
        {"Host": proxy.host, "Origin": APP, "Content-Type": "text/plain"},
        b"hello from a page",
    )
    assert put.status == 200, put.body
    assert put.header("Access-Control-Allow-Origin") == APP
    assert put.header("Access-Control-Expose-Headers") == "ETag, x-amz-request-id"
    assert "Origin" in (put.header("Vary") or "")

    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pic.txt"})
    got = send("GET", get_url, {"Host": proxy.host, "Origin": APP})
    assert (got.status, got.body) == (200, b"hello from a page")
    assert got.header("Access-Control-Allow-Origin") == APP
    assert got.header("Access-Control-Expose-Headers") == "ETag, x-amz-request-id"

    # Another origin: the preflight is refused and the response carries no CORS header.
    refused = preflight(proxy, put_url, "https://evil.test", "PUT", "content-type")
    assert (refused.status, error_code(refused.body)) == (403, "AccessForbidden")
    assert refused.header("Access-Control-Allow-Origin") is None
    foreign = send("GET", get_url, {"Host": proxy.host, "Origin": "https://evil.test"})
    assert foreign.status == 200 and foreign.header("Access-Control-Allow-Origin") is None
    # No Origin at all: a plain response.
    plain = send("GET", get_url, {"Host": proxy.host})
    assert plain.status == 200 and plain.header("Vary") is None


def test_a_refused_request_from_an_allowed_origin_can_be_read_by_the_page(
    proxy: Proxy, bucket: str
) -> None:
    s3 = proxy.client("alice")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    refused = send("GET", tampered, {"Host": proxy.host, "Origin": APP})
    assert (refused.status, error_code(refused.body)) == (403, "SignatureDoesNotMatch")
    assert refused.header("Access-Control-Allow-Origin") == APP
    missing = send("GET", url, {"Host": proxy.host, "Origin": APP})
    assert (missing.status, error_code(missing.body)) == (404, "NoSuchKey")
    assert missing.header("Access-Control-Allow-Origin") == APP


def test_a_rule_for_every_origin_answers_star(proxy: Proxy, bucket: str) -> None:
    proxy.client("alice").put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    answer = preflight(proxy, object_url(proxy.endpoint, bucket, "k"), "https://x.org", "HEAD")
    assert answer.status == 200
    assert answer.header("Access-Control-Allow-Origin") == "*"
    assert answer.header("Access-Control-Allow-Credentials") is None


@pytest.mark.parametrize(
    ("origin", "method", "headers", "status", "code"),
    [
        (None, "PUT", None, 400, "BadRequest"),
        (APP, None, None, 400, "BadRequest"),
        (APP, "DELETE", None, 403, "AccessForbidden"),
        (APP, "PUT", "content-type, x-custom", 403, "AccessForbidden"),
    ],
)
def test_preflights_s3_refuses(
    proxy: Proxy,
    bucket: str,
    origin: str | None,
    method: str | None,
    headers: str | None,
    status: int,
    code: str,
) -> None:
    proxy.client("alice").put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    answer = preflight(proxy, object_url(proxy.endpoint, bucket, "k"), origin, method, headers)
    assert (answer.status, error_code(answer.body)) == (status, code)


def test_without_a_configuration_or_a_bucket_a_preflight_gets_the_same_403(
    proxy: Proxy, bucket: str
) -> None:
    for name in (bucket, "no-such-bucket-" + os.urandom(3).hex()):
        answer = preflight(proxy, object_url(proxy.endpoint, name, "k"), APP, "GET")
        assert (answer.status, error_code(answer.body)) == (403, "AccessForbidden")
        assert b"CORS is not enabled for this bucket" in answer.body


def test_a_mapped_bucket_keeps_cors_too(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    s3.put_bucket_cors(Bucket="alice-photos", CORSConfiguration=RULES)
    try:
        names = [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
        assert "alice-photos" in names and not [n for n in names if n.startswith(".")]
        answer = preflight(proxy, object_url(proxy.endpoint, "alice-photos", "k"), APP, "GET")
        assert answer.status == 200 and answer.header("Access-Control-Allow-Origin") == APP
    finally:
        s3.delete_bucket_cors(Bucket="alice-photos")
    answer = preflight(proxy, object_url(proxy.endpoint, "alice-photos", "k"), APP, "GET")
    assert answer.status == 403


def test_tenants_sharing_a_bucket_name_are_told_apart_by_the_presigned_key(
    proxy: Proxy, bucket: str
) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    bob.create_bucket(Bucket=bucket)
    try:
        with pytest.raises(ClientError) as none:
            bob.get_bucket_cors(Bucket=bucket)  # alice's rules are hers alone
        assert code_of(none) == "NoSuchCORSConfiguration"
        url = object_url(proxy.endpoint, bucket, "k")
        assert preflight(proxy, url, APP, "GET").status == 403  # ambiguous without a key
        alice_url = alice.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "k"}
        )
        bob_url = bob.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
        assert preflight(proxy, alice_url, APP, "GET").status == 200
        assert preflight(proxy, bob_url, APP, "GET").status == 403
    finally:
        bob.delete_bucket(Bucket=bucket)


def test_a_recreated_bucket_starts_without_cors(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    name = "cors-" + os.urandom(5).hex()
    s3.create_bucket(Bucket=name)
    s3.put_bucket_cors(Bucket=name, CORSConfiguration=RULES)
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    try:
        with pytest.raises(ClientError) as missing:
            s3.get_bucket_cors(Bucket=name)
        assert code_of(missing) == "NoSuchCORSConfiguration"
    finally:
        s3.delete_bucket(Bucket=name)


@pytest.mark.upstream_layout
def test_the_settings_record_is_where_the_readme_says(proxy: Proxy, bucket: str) -> None:
    s3 = proxy.client("alice")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    s3.put_bucket_cors(Bucket="alice-photos", CORSConfiguration=RULES)
    try:
        for name in (f"alice/.buckets/{bucket}", "alice/.buckets/.mapped/alice-photos"):
            record = json.loads(
                proxy.upstream.get_object(Bucket=HOME_BUCKET, Key=name)["Body"].read()
            )
            assert record["cors"][0]["origins"] == ["https://*.example.com"]
    finally:
        s3.delete_bucket_cors(Bucket="alice-photos")
    s3.delete_bucket_cors(Bucket=bucket)
    marker = proxy.upstream.get_object(Bucket=HOME_BUCKET, Key=f"alice/.buckets/{bucket}")
    # no settings: only the bucket's creation date stays (wave 18: an empty marker's own date
    # became the bucket's CreationDate, today's)
    assert set(json.loads(marker["Body"].read())) == {"created"}
    with pytest.raises(ClientError):
        proxy.upstream.head_object(Bucket=HOME_BUCKET, Key="alice/.buckets/.mapped/alice-photos")
