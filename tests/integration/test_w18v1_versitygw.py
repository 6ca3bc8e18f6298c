"""versitygw's integration suite (tests/integration/{CopyObject,PutObject}.go, run on S3 too) as a
specification: the cases where s3proxy answered otherwise (wave 18, V1).

- ``x-amz-copy-source`` that does not percent-decode (``%`` without two hex digits, bytes that
  are not UTF-8) is 400 InvalidArgument "Invalid copy source encoding", S3's answer (versitygw's
  CopyObject_invalid_copy_source; the same text from S3 in paws-r/paws#819), not the request
  path's InvalidURI; for CopyObject and UploadPartCopy alike.
- ``x-amz-copy-source`` is split at its first ``/`` sent, then decoded, as S3 reads it: a
  bucket part that no bucket name can be (``buck@t``, ``b%2Fkey`` with its slash encoded) is
  400 InvalidArgument "Invalid copy source bucket name" (CopyObject_invalid_copy_source;
  aws/aws-sdk-cpp#1647 for a fully encoded source), where ``{bucket}%2Fsrc`` was decoded
  first and copied ``src`` (200).
- A self-copy with an ``x-amz-tagging-directive`` S3 does not know is refused as that
  (InvalidArgument "Unknown tagging directive."), as an unknown metadata directive is, not as an
  illegal self-copy (CopyObject_invalid_tagging_directive).
- An ``x-amz-tagging`` header that does not decode to a tag set (an empty tag name, a bad
  ``%`` escape) is the header's InvalidArgument, not InvalidTag (PutObject_tagging,
  CopyObject_should_replace_tagging).
- A preflight whose Access-Control-Request-Method is none of the five a rule may name (``get``,
  ``PATCH``), or whose Access-Control-Request-Headers holds a name that is not an HTTP token, is
  400 BadRequest with S3's words, with or without rules, not the 403 of a rule that does not
  match (PreflightOPTIONS_invalid_request_method, PreflightOPTIONS_invalid_request_headers).

Each refusal is followed by a read proving nothing was written. Raw requests
(tests/support/s3http.py) send the copy sources botocore would percent-encode.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, send, signed

pytestmark = [pytest.mark.integration, pytest.mark.one_lane]  # all refused before any backend call

SOURCE = b"source bytes"


@pytest.fixture()
def bucket(proxy: Proxy) -> Iterator[str]:
    """A fresh bucket of alice's holding ``src`` = SOURCE; emptied and removed afterwards."""
    name = "v1-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="src", Body=SOURCE, Tagging="a=1")
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def put(proxy: Proxy, bucket: str, key: str, query: str, headers: dict[str, str]) -> RawResponse:
    access_key, secret_key = proxy.keys("alice")
    return signed(
        "PUT", object_url(proxy.endpoint, bucket, key, query), access_key, secret_key, headers
    )


def message(response: RawResponse) -> str | None:
    return ET.fromstring(response.body).findtext("Message")


def keys_of(proxy: Proxy, bucket: str) -> list[str]:
    listing = proxy.client("alice").list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def client_error(call: Callable[..., object], **params: object) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


UNDECODABLE = ["{b}/%ZZ", "{b}/100%", "{b}/%A/src", "%", "{b}/%C3%", "{b}/%C3", "{b}/sr%FFc"]


@pytest.mark.parametrize("source", UNDECODABLE)
def test_a_copy_source_that_does_not_decode_is_invalid_argument(
    proxy: Proxy, bucket: str, source: str
) -> None:
    response = put(proxy, bucket, "dst", "", {"x-amz-copy-source": source.format(b=bucket)})
    assert (response.status, response.error_code) == (400, "InvalidArgument"), response.body
    assert message(response) == "Invalid copy source encoding"
    assert keys_of(proxy, bucket) == ["src"]


BAD_BUCKETS = ["my-buc@k&()t/src", "2001:db8::7334/something", "{b}%2Fsrc", "%2F{b}%2Fsrc"]


@pytest.mark.parametrize("source", BAD_BUCKETS)
def test_a_copy_source_bucket_no_bucket_can_be_named_is_invalid_argument(
    proxy: Proxy, bucket: str, source: str
) -> None:
    response = put(proxy, bucket, "dst", "", {"x-amz-copy-source": source.format(b=bucket)})
    assert (response.status, response.error_code) == (400, "InvalidArgument"), response.body
    assert message(response) == "Invalid copy source bucket name"
    assert keys_of(proxy, bucket) == ["src"]


def test_an_upload_part_copy_source_is_refused_as_a_copy_source_is(
    proxy: Proxy, bucket: str
) -> None:
    s3 = proxy.client("alice")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    query = f"partNumber=1&uploadId={upload}"
    for source, text in (
        (f"{bucket}/%ZZ", "Invalid copy source encoding"),
        (f"{bucket}%2Fsrc", "Invalid copy source bucket name"),
    ):
        response = put(proxy, bucket, "dst", query, {"x-amz-copy-source": source})
        assert (response.status, response.error_code) == (400, "InvalidArgument"), response.body
        assert message(response) == text
    assert s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload).get("Parts", []) == []


def test_a_self_copy_with_an_unknown_tagging_directive_names_the_directive(
    proxy: Proxy, bucket: str
) -> None:
    s3 = proxy.client("alice")
    before = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    code, text = client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="src",
        CopySource=f"{bucket}/src",
        TaggingDirective="invalid",
    )
    assert (code, text) == ("InvalidArgument", "Unknown tagging directive.")
    assert s3.head_object(Bucket=bucket, Key="src")["ETag"] == before
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == [{"Key": "a", "Value": "1"}]


HEADER_ONLY = "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query"


@pytest.mark.parametrize("tagging", ["=", "=v", "key%", "k=v%", "a=1&=2"])
def test_an_x_amz_tagging_that_does_not_decode_is_invalid_argument(
    proxy: Proxy, bucket: str, tagging: str
) -> None:
    s3 = proxy.client("alice")
    code, text = client_error(s3.put_object, Bucket=bucket, Key="put", Body=b"x", Tagging=tagging)
    assert code == "InvalidArgument" and text.startswith(HEADER_ONLY)
    code, text = client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="copied",
        CopySource=f"{bucket}/src",
        TaggingDirective="REPLACE",
        Tagging=tagging,
    )
    assert code == "InvalidArgument" and text.startswith(HEADER_ONLY)
    assert keys_of(proxy, bucket) == ["src"]


@pytest.mark.parametrize("rules", [False, True], ids=["no-rules", "rules"])
@pytest.mark.parametrize(
    ("method", "headers", "text"),
    [
        ("get", None, "Invalid Access-Control-Request-Method: get"),
        ("Put", None, "Invalid Access-Control-Request-Method: Put"),
        ("PATCH", None, "Invalid Access-Control-Request-Method: PATCH"),
        ("OPTIONS", None, "Invalid Access-Control-Request-Method: OPTIONS"),
        ("GET", "X-Amz-Date,invalid header", 'Access-Control-Request-Headers "invalid header"'),
        (
            "GET",
            "Authorization,X-Custom:Header",
            'Access-Control-Request-Headers "X-Custom:Header"',
        ),
        ("GET", "Content-Length, X(Custom)", 'Access-Control-Request-Headers "X(Custom)"'),
        ("GET", "Accept-Encoding,bad@char", 'Access-Control-Request-Headers "bad@char"'),
        ("GET", "tab\tchar,X-Valid", 'Access-Control-Request-Headers "tab\tchar"'),
    ],
)
def test_a_preflight_no_rule_could_allow_is_bad_request(
    proxy: Proxy, bucket: str, rules: bool, method: str, headers: str | None, text: str
) -> None:
    if rules:
        everything = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"]}
        cors = {"CORSRules": [everything | {"AllowedHeaders": ["*"]}]}
        proxy.client("alice").put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)
    sent = {"Host": proxy.host, "Origin": "https://app.example.com"}
    sent["Access-Control-Request-Method"] = method
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    answer = send("OPTIONS", object_url(proxy.endpoint, bucket, "src"), sent)
    assert (answer.status, answer.error_code) == (400, "BadRequest"), answer.body
    assert (message(answer) or "").startswith(text)
    assert answer.header("Access-Control-Allow-Origin") is None


def test_a_valid_preflight_is_still_answered_by_the_rules(proxy: Proxy, bucket: str) -> None:
    rule = {"AllowedOrigins": ["*"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["x-amz-*"]}
    proxy.client("alice").put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    sent = {"Host": proxy.host, "Origin": "https://app.example.com"}
    sent |= {"Access-Control-Request-Method": "PUT"}
    sent |= {"Access-Control-Request-Headers": "X-Amz-Date , x-amz-content-sha256"}
    answer = send("OPTIONS", object_url(proxy.endpoint, bucket, "src"), sent)
    assert answer.status == 200, answer.body
    assert answer.header("Access-Control-Allow-Headers") == "x-amz-date, x-amz-content-sha256"
