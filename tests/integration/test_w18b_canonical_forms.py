"""Request targets and SigV4 canonical forms as S3 answers them, through the running gateway
(wave 18, B). tests/unit/test_w18b_request_target.py and test_w18b_auth_words.py say why each
reading is S3's.

On both engines (a local store: the HTTP layer and the signature do not depend on the storage):
a target sent as raw UTF-8 is served as its bytes percent-encoded (was 400 on both), a bare
``+`` in the path is a space in the key (was a plus sign), ``%2F`` is ``/`` in the canonical
URI, and empty query parts are no parameters. In front of every upstream: a sub-resource with a
value is that sub-resource's operation (``PUT ?tagging=x`` sets tags and leaves the object's
bytes alone). An empty SignedHeaders is 403 AccessDenied and stores nothing.
"""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.conftest import Proxy, start_proxy
from tests.support.s3http import RawResponse, object_url, send, sign

pytestmark = pytest.mark.integration

BUCKET = "docs"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def unique(tag: str) -> str:
    return f"w18b-{tag}-{os.urandom(4).hex()}"


@pytest.fixture(scope="module", params=("uvicorn", "hypercorn"))
def engine_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    running = start_proxy(
        None, None, tmp_path_factory.mktemp("w18b"), server={"engine": request.param}
    )
    try:
        yield running
    finally:
        running.process.stop()


def signed_target(
    proxy: Proxy, method: str, target: str, body: bytes = b"", *, presign: bool = False
) -> tuple[str, dict[str, str]]:
    """(target, headers) of a request botocore signed over ``target`` exactly as given."""
    # A presigned URL signs no body (UNSIGNED-PAYLOAD): botocore's presigner is given none.
    request = AWSRequest(method=method, url=proxy.endpoint + target, data=b"" if presign else body)
    request.headers["Host"] = proxy.host
    credentials = Credentials(*proxy.keys("alice"))
    if presign:
        S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=900).add_auth(request)
    else:
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    parts = urlsplit(request.url)
    headers = {name: str(value) for name, value in request.headers.items()}
    return parts.path + (f"?{parts.query}" if parts.query else ""), headers


def raw_exchange(
    proxy: Proxy, method: str, target: bytes, headers: dict[str, str], body: bytes = b""
) -> RawResponse:
    """One request whose target goes on the wire byte for byte (http.client writes ASCII)."""
    head = b"%s %s HTTP/1.1\r\n" % (method.encode(), target)
    for name, value in headers.items():
        if name.lower() != "content-length":
            head += f"{name}: {value}\r\n".encode()
    head += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as sock:
        sock.sendall(head + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    _, _, answer = rest.partition(b"\r\n\r\n")
    return RawResponse(int(status_line.split()[1]), [], answer)


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
def test_a_raw_utf8_target_is_served_as_its_encoded_bytes(
    engine_proxy: Proxy, presign: bool
) -> None:
    key = unique("\u00e9t\u00e9")
    encoded = object_url("", BUCKET, key)
    target, headers = signed_target(engine_proxy, "PUT", encoded, b"raw", presign=presign)
    raw = target.replace(encoded, f"/{BUCKET}/{key}").encode()
    assert b"\xc3\xa9" in raw
    put = raw_exchange(engine_proxy, "PUT", raw, headers, b"raw")
    assert put.status == 200, put.body
    got = engine_proxy.client("alice").get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == b"raw"
    target, headers = signed_target(engine_proxy, "GET", encoded, presign=presign)
    read = raw_exchange(
        engine_proxy, "GET", target.replace(encoded, f"/{BUCKET}/{key}").encode(), headers
    )
    assert (read.status, read.body) == (200, b"raw")


def test_a_raw_utf8_target_signed_as_raw_text_is_refused(engine_proxy: Proxy) -> None:
    key = unique("\u00e9")
    target, headers = signed_target(engine_proxy, "PUT", f"/{BUCKET}/{key}", b"x")
    put = raw_exchange(engine_proxy, "PUT", target.encode(), headers, b"x")
    assert (put.status, put.error_code) == (403, "SignatureDoesNotMatch")
    listed = engine_proxy.client("alice").list_objects_v2(Bucket=BUCKET, Prefix=key)
    assert listed.get("KeyCount") == 0


def test_a_bare_plus_in_the_path_is_a_space(engine_proxy: Proxy) -> None:
    key = unique("a b")
    encoded = object_url("", BUCKET, key)
    target, headers = signed_target(engine_proxy, "PUT", encoded, b"plus")
    put = send("PUT", engine_proxy.endpoint + target.replace("%20", "+"), headers, b"plus")
    assert put.status == 200, put.body
    s3 = engine_proxy.client("alice")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"plus"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=key.replace(" ", "+")).get("KeyCount") == 0


def test_an_encoded_slash_is_signed_as_a_slash(engine_proxy: Proxy) -> None:
    key = unique("a") + "/b"
    target, headers = signed_target(engine_proxy, "PUT", f"/{BUCKET}/{key}", b"slash")
    put = send("PUT", engine_proxy.endpoint + target.replace("/b", "%2Fb"), headers, b"slash")
    assert put.status == 200, put.body
    s3 = engine_proxy.client("alice")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"slash"
    as_sent = f"/{BUCKET}/{key.replace('/', '%2F')}"
    target, headers = signed_target(engine_proxy, "PUT", as_sent, b"other")
    refused = send("PUT", engine_proxy.endpoint + target, headers, b"other")
    assert (refused.status, refused.error_code) == (403, "SignatureDoesNotMatch")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"slash"


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
def test_empty_query_parts_are_no_parameters(engine_proxy: Proxy, presign: bool) -> None:
    key = unique("listed")
    engine_proxy.client("alice").put_object(Bucket=BUCKET, Key=key, Body=b"x")
    listing = f"/{BUCKET}?list-type=2&prefix={key}"
    target, headers = signed_target(engine_proxy, "GET", listing, presign=presign)
    path, _, query = target.partition("?")
    answer = send("GET", f"{engine_proxy.endpoint}{path}?&&{query.replace('&', '&&')}&", headers)
    assert answer.status == 200, answer.body
    root = ET.fromstring(answer.body)
    assert root.findtext(f"{NS}KeyCount") == "1"  # a ListObjectsV2 answer, the prefix applied
    assert [k.text for k in root.iter(f"{NS}Key")] == [key]


def test_a_sub_resource_with_a_value_is_that_sub_resource(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    key = unique("tagged")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"the object")
    tagging = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    url = object_url(proxy.endpoint, BUCKET, key, "tagging=x")
    put = send("PUT", url, sign("PUT", url, *proxy.keys("alice"), body=tagging), tagging)
    assert put.status == 200, put.body
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"the object"
    assert s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == [{"Key": "k", "Value": "v"}]
    url = object_url(proxy.endpoint, BUCKET, None, "acl=x")
    acl = send("GET", url, sign("GET", url, *proxy.keys("alice")))
    assert acl.status == 200 and ET.fromstring(acl.body).tag == f"{NS}AccessControlPolicy"
    url = object_url(proxy.endpoint, BUCKET, key, "uploads=x")
    started = send("POST", url, sign("POST", url, *proxy.keys("alice")))
    assert started.status == 200, started.body
    upload_id = ET.fromstring(started.body).findtext(f"{NS}UploadId")
    assert upload_id
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"the object"


@pytest.mark.one_lane  # refused before any backend call
def test_an_empty_signed_headers_is_host_not_signed(proxy: Proxy) -> None:
    key = unique("unsigned")
    url = object_url(proxy.endpoint, BUCKET, key)
    headers = sign("PUT", url, *proxy.keys("alice"), body=b"x")
    head, _, rest = headers["Authorization"].partition("SignedHeaders=")
    headers["Authorization"] = f"{head}SignedHeaders={rest[rest.index(',') :]}"
    answer = send("PUT", url, headers, b"x")
    assert (answer.status, answer.error_code) == (403, "AccessDenied")
    assert ET.fromstring(answer.body).findtext("HeadersNotSigned") == (
        "host, x-amz-content-sha256, x-amz-date"
    )
    assert proxy.client("alice").list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount") == 0
