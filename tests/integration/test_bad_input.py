"""Bad input gets the exact S3 error, and a follow-up GET shows nothing was stored.

Requests are signed by botocore and then tampered with, so each test breaks exactly one thing.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, send, sign, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"


def put(proxy: Proxy, key: str, body: bytes, **kwargs: object) -> RawResponse:
    ak, sk = proxy.keys("alice")
    return signed("PUT", object_url(proxy.endpoint, BUCKET, key), ak, sk, body=body, **kwargs)  # type: ignore[arg-type]


def assert_not_stored(proxy: Proxy, key: str) -> None:
    ak, sk = proxy.keys("alice")
    response = signed("GET", object_url(proxy.endpoint, BUCKET, key), ak, sk)
    assert response.status == 404
    assert response.error_code == "NoSuchKey"


def unique(name: str) -> str:
    return f"bad/{name}-{os.urandom(4).hex()}"


def test_signed_put_works(proxy: Proxy) -> None:
    key = unique("good")
    body = b"fine"
    response = put(proxy, key, body, payload_hash=hashlib.sha256(body).hexdigest())
    assert response.status == 200
    ak, sk = proxy.keys("alice")
    assert signed("GET", object_url(proxy.endpoint, BUCKET, key), ak, sk).body == body


def test_unsigned_amz_header_is_access_denied(proxy: Proxy) -> None:
    key = unique("unsigned")

    def add_header(headers: dict[str, str]) -> None:
        headers["x-amz-meta-sneaky"] = "1"

    response = put(proxy, key, b"data", tamper=add_header)
    assert (response.status, response.error_code) == (403, "AccessDenied")
    assert_not_stored(proxy, key)


def test_wrong_secret_is_signature_mismatch(proxy: Proxy) -> None:
    key = unique("wrong-secret")
    ak, _ = proxy.keys("alice")
    response = signed(
        "PUT", object_url(proxy.endpoint, BUCKET, key), ak, "not-the-secret", body=b"x"
    )
    assert (response.status, response.error_code) == (403, "SignatureDoesNotMatch")
    assert_not_stored(proxy, key)


def test_tampered_signed_header_is_signature_mismatch(proxy: Proxy) -> None:
    key = unique("tampered")

    def change_colour(headers: dict[str, str]) -> None:
        headers["x-amz-meta-colour"] = "red"

    response = put(proxy, key, b"x", headers={"x-amz-meta-colour": "blue"}, tamper=change_colour)
    assert (response.status, response.error_code) == (403, "SignatureDoesNotMatch")
    assert_not_stored(proxy, key)


def test_tampered_path_is_signature_mismatch(proxy: Proxy) -> None:
    key = unique("path")
    ak, sk = proxy.keys("alice")
    headers = sign("PUT", object_url(proxy.endpoint, BUCKET, key), ak, sk, body=b"x")
    response = send("PUT", object_url(proxy.endpoint, BUCKET, key + "-other"), headers, b"x")
    assert (response.status, response.error_code) == (403, "SignatureDoesNotMatch")
    assert_not_stored(proxy, key + "-other")


def test_unknown_access_key(proxy: Proxy) -> None:
    response = signed("GET", object_url(proxy.endpoint, BUCKET, "k"), "AKNOBODY", "whatever-secret")
    assert (response.status, response.error_code) == (403, "InvalidAccessKeyId")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_skewed_date_is_refused(proxy: Proxy, minutes: int) -> None:
    key = unique("skew")
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    response = put(proxy, key, b"x", when=when)
    assert (response.status, response.error_code) == (403, "RequestTimeTooSkewed")
    assert_not_stored(proxy, key)


def test_literal_payload_hash_mismatch_stores_nothing(proxy: Proxy) -> None:
    key = unique("sha")
    body = os.urandom(3 * 1024 * 1024)
    wrong = hashlib.sha256(body + b"!").hexdigest()
    response = put(proxy, key, body, payload_hash=wrong)
    assert (response.status, response.error_code) == (400, "XAmzContentSHA256Mismatch")
    assert_not_stored(proxy, key)


def test_failed_overwrite_keeps_the_previous_object(proxy: Proxy) -> None:
    key = unique("keep")
    s3 = proxy.client("alice")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"original")
    body = os.urandom(2 * 1024 * 1024)
    response = put(proxy, key, body, payload_hash=hashlib.sha256(b"other").hexdigest())
    assert response.error_code == "XAmzContentSHA256Mismatch"
    digest = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    response = put(proxy, key, body, headers={"Content-MD5": digest})
    assert response.error_code == "BadDigest"
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"original"


def test_content_md5_mismatch_is_bad_digest(proxy: Proxy) -> None:
    key = unique("md5")
    digest = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    response = put(proxy, key, b"payload", headers={"Content-MD5": digest})
    assert (response.status, response.error_code) == (400, "BadDigest")
    assert_not_stored(proxy, key)


def test_malformed_content_md5_is_invalid_digest(proxy: Proxy) -> None:
    key = unique("md5-malformed")
    response = put(proxy, key, b"payload", headers={"Content-MD5": "not-base64!"})
    assert (response.status, response.error_code) == (400, "InvalidDigest")
    assert_not_stored(proxy, key)


def test_correct_content_md5_is_accepted(proxy: Proxy) -> None:
    key = unique("md5-good")
    digest = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    assert put(proxy, key, b"payload", headers={"Content-MD5": digest}).status == 200


def test_key_of_1025_bytes_is_too_long(proxy: Proxy) -> None:
    key = "k" * 1025
    response = put(proxy, key, b"x")
    assert (response.status, response.error_code) == (400, "KeyTooLongError")
    ak, sk = proxy.keys("alice")
    response = signed("GET", object_url(proxy.endpoint, BUCKET, key), ak, sk)
    assert response.error_code == "KeyTooLongError"


def test_missing_content_length_is_411(proxy: Proxy) -> None:
    key = unique("no-length")
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, BUCKET, key)
    headers = sign("PUT", url, ak, sk)
    headers.pop("Content-Length", None)
    response = send("PUT", url, headers, b"", content_length=False)
    assert (response.status, response.error_code) == (411, "MissingContentLength")
    assert_not_stored(proxy, key)


def test_anonymous_request_is_denied(proxy: Proxy) -> None:
    response = send("GET", object_url(proxy.endpoint, BUCKET, "k"), {"Host": proxy.host})
    assert (response.status, response.error_code) == (403, "AccessDenied")


def test_unsupported_operation_is_501_after_auth(proxy: Proxy) -> None:
    ak, sk = proxy.keys("alice")
    response = signed("GET", object_url(proxy.endpoint, BUCKET, "k", "torrent"), ak, sk)
    assert (response.status, response.error_code) == (501, "NotImplemented")
    response = signed("GET", object_url(proxy.endpoint, BUCKET, "k", "torrent"), ak, "bad-secret")
    assert response.error_code == "SignatureDoesNotMatch"


def test_every_response_carries_a_request_id(proxy: Proxy) -> None:
    ak, sk = proxy.keys("alice")
    ok = signed("DELETE", object_url(proxy.endpoint, BUCKET, "nothing"), ak, sk)
    bad = signed("GET", object_url(proxy.endpoint, BUCKET, "nothing"), ak, "bad-secret")
    for response in (ok, bad):
        request_id = response.header("x-amz-request-id")
        assert request_id and len(request_id) == 16
