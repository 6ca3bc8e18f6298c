"""SignatureDoesNotMatch through the running gateway tells the client what was signed, as S3
does (wave 18, B2; tests/unit/test_w18b2_mismatch.py says why each field is S3's).

A client with the right access key and a wrong secret gets, in its ClientError, the canonical
request and string to sign the gateway computed: the very strings the client signed (its own
secret over the string shown gives the signature it sent, and the string names the hash of the
canonical request shown). Header-signed, presigned, SigV2, and an aws-chunked upload
whose chunk signature is wrong (that chunk's string to sign); on the lane's proxy (uvicorn)
and on hypercorn. Nothing is stored by any of them, and no answer holds the right signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3proxy.auth.sigv4 import EMPTY_SHA256, sign, signing_key
from tests.integration.conftest import Proxy, client_for, start_proxy
from tests.support.s3http import RawResponse, aws_chunked_headers, object_url, send
from tests.support.s3http import sign as sign_headers

pytestmark = pytest.mark.integration

BUCKET = "docs"
WRONG = "not-the-secret-of-this-key"
V4_FIELDS = [
    "AWSAccessKeyId",
    "StringToSign",
    "SignatureProvided",
    "StringToSignBytes",
    "CanonicalRequest",
    "CanonicalRequestBytes",
]


def unique(tag: str) -> str:
    return f"w18b2-{tag}-{os.urandom(4).hex()}"


def hexed(text: str) -> str:
    return " ".join(f"{byte:02x}" for byte in text.encode("utf-8"))


def error_of(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "SignatureDoesNotMatch"
    return dict(response["Error"])


def assert_absent(proxy: Proxy, key: str) -> None:
    with pytest.raises(ClientError) as caught:
        proxy.client("alice").head_object(Bucket=BUCKET, Key=key)
    assert caught.value.response["Error"]["Code"] == "404"


def assert_what_the_client_signed(error: dict[str, str], secret: str) -> None:
    """The strings shown are the ones the client signed: its (wrong) secret over the string
    to sign gives the signature it sent, and that string names the canonical request's hash.
    No log of botocore's is needed (its CRT signer logs nothing)."""
    algorithm, amz_date, scope, digest = error["StringToSign"].split("\n")
    assert algorithm == "AWS4-HMAC-SHA256" and scope.startswith(amz_date[:8])
    key = signing_key(secret, amz_date[:8], "us-east-1")
    assert sign(key, error["StringToSign"]) == error["SignatureProvided"]
    assert hashlib.sha256(error["CanonicalRequest"].encode()).hexdigest() == digest


def assert_header_signed_mismatch(proxy: Proxy) -> None:
    access_key, _ = proxy.keys("alice")
    wrong = client_for(proxy.endpoint, access_key, WRONG)
    key = unique("header")
    error = error_of(
        lambda: wrong.put_object(
            Bucket=BUCKET, Key=key, Body=b"never stored", Metadata={"colour": "blue"}
        )
    )
    assert [name for name in error if name in V4_FIELDS] == V4_FIELDS
    assert error["AWSAccessKeyId"] == access_key
    assert_what_the_client_signed(error, WRONG)
    assert error["CanonicalRequestBytes"] == hexed(error["CanonicalRequest"])
    assert error["StringToSignBytes"] == hexed(error["StringToSign"])
    assert error["CanonicalRequest"].startswith(f"PUT\n/{BUCKET}/{key}\n")
    assert "x-amz-meta-colour:blue\n" in error["CanonicalRequest"]
    assert re.fullmatch("[0-9a-f]{64}", error["SignatureProvided"])
    # The signature the right secret makes is the gateway's to know, never to show.
    _, secret = proxy.keys("alice")
    scope_date = error["StringToSign"].split("\n")[2][:8]
    right = sign(signing_key(secret, scope_date, "us-east-1"), error["StringToSign"])
    assert right not in str(error)
    assert_absent(proxy, key)


def test_header_signed_mismatch_shows_what_was_signed(proxy: Proxy) -> None:
    assert_header_signed_mismatch(proxy)


def test_presigned_mismatch_shows_what_was_signed(proxy: Proxy) -> None:
    access_key, _ = proxy.keys("alice")
    key = unique("presigned")
    proxy.client("alice").put_object(Bucket=BUCKET, Key=key, Body=b"secret bytes")
    url = client_for(proxy.endpoint, access_key, WRONG).generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300
    )
    response = send("GET", url, {"Host": proxy.host})
    assert response.status == 403 and b"secret bytes" not in response.body
    assert xml_fields(response)[:8] == ["Code", "Message", *V4_FIELDS]
    fields = dict(fields_and_text(response))
    assert_what_the_client_signed(fields, WRONG)
    canonical = fields["CanonicalRequest"]
    assert canonical.startswith(f"GET\n/{BUCKET}/{key}\nX-Amz-Algorithm=AWS4-HMAC-SHA256&")
    assert "X-Amz-Signature" not in canonical and canonical.endswith("\nUNSIGNED-PAYLOAD")


def test_sigv2_mismatch_shows_the_string_to_sign(proxy: Proxy) -> None:
    access_key, _ = proxy.keys("alice")
    wrong = boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=WRONG,
        region_name="us-east-1",
        config=Config(
            signature_version="s3",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
        ),
    )
    key = unique("v2")
    error = error_of(lambda: wrong.put_object(Bucket=BUCKET, Key=key, Body=b"never"))
    assert [n for n in error if n in V4_FIELDS] == V4_FIELDS[:4]
    assert error["StringToSign"].startswith("PUT\n")
    assert error["StringToSign"].endswith(f"\n/{BUCKET}/{key}")
    # The client's (wrong) secret over the string shown gives the signature it sent.
    mac = hmac.digest(WRONG.encode(), error["StringToSign"].encode(), "sha1")
    assert base64.b64encode(mac).decode() == error["SignatureProvided"]
    assert error["StringToSignBytes"] == hexed(error["StringToSign"])
    assert_absent(proxy, key)


def test_a_wrong_chunk_signature_shows_that_chunk(proxy: Proxy) -> None:
    """An aws-chunked upload whose seed verifies and whose first chunk does not: 403 with the
    chunk's string to sign (chained from the seed) and the old object kept."""
    s3 = proxy.client("alice")
    key = unique("chunked")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"old object")
    access_key, secret = proxy.keys("alice")
    data = os.urandom(70_000)
    url = object_url(proxy.endpoint, BUCKET, key)
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    headers = sign_headers(
        "PUT", url, access_key, secret, aws_chunked_headers(len(data)), payload_hash=mode
    )
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    digest = hashlib.sha256(data[:65536]).hexdigest()
    chunk_to_sign = (
        f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{seed}\n{EMPTY_SHA256}\n{digest}"
    )
    right = sign(signing_key(secret, amz_date[:8], "us-east-1"), chunk_to_sign)
    bad = "0" * 64
    body = b"10000;chunk-signature=%s\r\n%s\r\n" % (bad.encode(), data[:65536])
    body += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(data) - 65536, b"1" * 64, data[65536:])
    body += b"0;chunk-signature=%s\r\n\r\n" % (b"2" * 64)
    response = send("PUT", url, headers, body)
    assert response.status == 403
    fields = dict(fields_and_text(response))
    assert fields["Code"] == "SignatureDoesNotMatch"
    assert fields["AWSAccessKeyId"] == access_key
    assert fields["StringToSign"] == chunk_to_sign
    assert fields["SignatureProvided"] == bad
    assert fields["CanonicalRequest"].startswith(f"PUT\n/{BUCKET}/{key}\n")
    assert fields["CanonicalRequest"].endswith(f"\n{mode}")
    assert right.encode() not in response.body
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"old object"


def fields_and_text(response: RawResponse) -> list[tuple[str, str]]:
    return [(child.tag, child.text or "") for child in ET.fromstring(response.body)]


def xml_fields(response: RawResponse) -> list[str]:
    return [name for name, _ in fields_and_text(response)]


@pytest.fixture(scope="module")
def hypercorn_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    running = start_proxy(
        None, None, tmp_path_factory.mktemp("w18b2"), server={"engine": "hypercorn"}
    )
    try:
        yield running
    finally:
        running.process.stop()


def test_hypercorn_answers_the_same(hypercorn_proxy: Proxy) -> None:
    assert_header_signed_mismatch(hypercorn_proxy)
