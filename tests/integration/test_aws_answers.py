"""AWS's exact answers to the edge requests earlier waves answered by guess, on every lane.

Each answer is taken from AWS's S3 API reference where it says, else from gateways whose
behaviour was checked against AWS (versitygw's integration suite and issue tracker, Scality
cloudserver, ceph/s3-tests), and is named in the test's docstring. Requests are signed by
botocore and sent verbatim (tests/support/s3http.py), so no SDK fixes them up.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "docs"
TEN = b"0123456789"


def call(
    proxy: Proxy,
    method: str,
    key: str | None = None,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    bucket: str = BUCKET,
) -> RawResponse:
    url = object_url(proxy.endpoint, bucket, key, query)
    return signed(method, url, *proxy.keys("alice"), headers, body)


def unique(name: str) -> str:
    return f"answers/{name}-{os.urandom(4).hex()}"


def md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def failure(response: RawResponse) -> tuple[int, str | None]:
    assert b"Traceback" not in response.body
    return response.status, response.error_code


@pytest.fixture(scope="module")
def objects(proxy: Proxy) -> dict[str, str]:
    """A 10-byte object and an empty one."""
    keys = {"ten": unique("ten"), "empty": unique("empty")}
    assert call(proxy, "PUT", keys["ten"], body=TEN).status == 200
    assert call(proxy, "PUT", keys["empty"], body=b"").status == 200
    return keys


# --- 1. Range ----------------------------------------------------------------------------------


def test_a_suffix_of_zero_bytes_is_unsatisfiable(proxy: Proxy, objects: dict[str, str]) -> None:
    """``bytes=-0`` names no byte: RFC 9110 §14.1.1 makes it unsatisfiable, and AWS answers
    416 InvalidRange (versitygw ParseObjectRange: "Disallow -0 (always unsatisfiable)"). It was
    served as 200 with the whole object. HEAD answers the same status."""
    got = call(proxy, "GET", objects["ten"], headers={"Range": "bytes=-0"})
    assert failure(got) == (416, "InvalidRange")
    assert got.header("Content-Range") == "bytes */10"
    head = call(proxy, "HEAD", objects["ten"], headers={"Range": "bytes=-0"})
    assert head.status == 416
    empty = call(proxy, "GET", objects["empty"], headers={"Range": "bytes=-0"})
    assert failure(empty) == (416, "InvalidRange")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_suffix_range_of_an_empty_object_is_ignored(
    proxy: Proxy, objects: dict[str, str], method: str
) -> None:
    """A positive suffix on an empty object: AWS ignores the Range and answers 200 with the
    (empty) object (versitygw: "for zero-sized objects any positive suffix is treated as
    invalid (ignored, no error)"; floci#1141: Trino's tail read of an empty S3 file), while a
    first byte (``bytes=0-``) stays 416."""
    got = call(proxy, method, objects["empty"], headers={"Range": "bytes=-5"})
    assert got.status == 200, got.body[:300]
    assert got.body == b""
    assert got.header("Content-Length") == "0"
    assert got.header("Content-Range") is None
    first = call(proxy, "GET", objects["empty"], headers={"Range": "bytes=0-"})
    assert failure(first) == (416, "InvalidRange")


@pytest.mark.parametrize("header", ["bytes=5-3", "bytes=0-1,3-4", "bytes=-1,2-3"])
def test_reversed_or_several_ranges_serve_the_whole_object(
    proxy: Proxy, objects: dict[str, str], header: str
) -> None:
    """S3 serves one range; a reversed one or a list is ignored: 200 and the whole object
    (AWS GetObject reference: "Amazon S3 doesn't support retrieving multiple ranges of data
    per GET request"; versitygw#1120 checked ``bytes=33-10`` against AWS)."""
    got = call(proxy, "GET", objects["ten"], headers={"Range": header})
    assert (got.status, got.body, got.header("Content-Range")) == (200, TEN, None)


# --- 2. DeleteObjects --------------------------------------------------------------------------


def delete(proxy: Proxy, body: bytes, digest: bool = True) -> RawResponse:
    headers = {"Content-MD5": md5(body)} if digest else {}
    return call(proxy, "POST", None, "delete", body, headers)


def stored(proxy: Proxy, key: str) -> bool:
    return call(proxy, "HEAD", key).status == 200


@pytest.mark.parametrize(
    "xmlns",
    ["", ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'],
    ids=["no-namespace", "s3-namespace"],
)
def test_delete_objects_with_or_without_the_s3_namespace(proxy: Proxy, xmlns: str) -> None:
    """botocore sends the S3 namespace, s3cmd none: AWS takes both."""
    key = unique("ns")
    assert call(proxy, "PUT", key, body=b"x").status == 200
    body = f"<Delete{xmlns}><Object><Key>{key}</Key></Object></Delete>".encode()
    answer = delete(proxy, body)
    assert answer.status == 200
    assert [e.tag.rsplit("}", 1)[-1] for e in ET.fromstring(answer.body)] == ["Deleted"]
    assert not stored(proxy, key)


@pytest.mark.one_lane  # refused while parsing, before any backend call
@pytest.mark.parametrize(
    "key_xml",
    [b"a&#0;b", b"a\x00b", b"a&#1;b", b"a\x1fb", b"a&#xFFFE;b"],
    ids=["nul-reference", "nul-byte", "soh-reference", "us-byte", "non-character"],
)
def test_delete_objects_with_a_character_xml_forbids_is_malformed(
    proxy: Proxy, key_xml: bytes
) -> None:
    """XML 1.0 has no NUL and no C0 control but tab, LF, CR: a document naming one is not
    well-formed, and AWS answers MalformedXML (keys with such characters exist only through
    PutObject's path, and are deleted by DeleteObject)."""
    key = unique("ctl")
    assert call(proxy, "PUT", key, body=b"x").status == 200
    body = b"<Delete><Object><Key>" + key_xml + b"</Key></Object><Object><Key>"
    body += key.encode() + b"</Key></Object></Delete>"
    assert failure(delete(proxy, body)) == (400, "MalformedXML")
    assert stored(proxy, key)


@pytest.mark.one_lane  # refused while parsing, before any backend call
@pytest.mark.parametrize(
    "body",
    [b"<Delete></Delete>", b"<Delete><Quiet>true</Quiet></Delete>", b"<Delete/>"],
    ids=["empty", "quiet-only", "self-closed"],
)
def test_delete_objects_naming_no_object_is_malformed(proxy: Proxy, body: bytes) -> None:
    """DeleteObjects' ``Objects`` member is required (API reference; 1 to 1,000 entries): a
    document naming none does not validate against the schema, which is MalformedXML."""
    assert failure(delete(proxy, body)) == (400, "MalformedXML")


# --- 3. Conditional writes ---------------------------------------------------------------------


@pytest.fixture()
def existing(proxy: Proxy) -> dict[str, str]:
    key = unique("cond")
    answer = call(proxy, "PUT", key, body=b"old")
    assert answer.status == 200
    etag = answer.header("ETag")
    assert etag is not None
    return {"key": key, "etag": etag}


def body_of(proxy: Proxy, key: str) -> bytes | None:
    got = call(proxy, "GET", key)
    return got.body if got.status == 200 else None


def test_put_if_match_on_a_missing_key_is_no_such_key(proxy: Proxy) -> None:
    """If-Match naming a key with no object: 404 NoSuchKey on AWS (conditional-writes guide;
    versitygw EvaluateObjectPutPreconditions); SeaweedFS 4.48 and Ceph RGW 16 answer 412."""
    key = unique("absent")
    answer = call(proxy, "PUT", key, body=b"new", headers={"If-Match": '"' + "0" * 32 + '"'})
    assert failure(answer) == (404, "NoSuchKey")
    assert body_of(proxy, key) is None


def test_put_conditions_on_an_existing_key(proxy: Proxy, existing: dict[str, str]) -> None:
    key = existing["key"]
    wrong = call(proxy, "PUT", key, body=b"new", headers={"If-Match": '"' + "0" * 32 + '"'})
    assert failure(wrong) == (412, "PreconditionFailed")
    taken = call(proxy, "PUT", key, body=b"new", headers={"If-None-Match": "*"})
    assert failure(taken) == (412, "PreconditionFailed")
    assert body_of(proxy, key) == b"old"  # (a matching If-Match: test_objects.py)


def open_upload(proxy: Proxy, key: str) -> tuple[str, bytes]:
    """An upload of one small part and the Complete body that names it."""
    s3 = proxy.client("alice")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"mp")["ETag"]
    parts = f"<Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
    return upload, f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


def abort(proxy: Proxy, key: str, upload: str) -> None:
    with contextlib.suppress(ClientError):
        proxy.client("alice").abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)


def test_complete_if_match_on_a_missing_key_is_no_such_key(proxy: Proxy) -> None:
    key = unique("mp-absent")
    upload, body = open_upload(proxy, key)
    try:
        headers = {"If-Match": '"' + "0" * 32 + '"'}
        answer = call(proxy, "POST", key, f"uploadId={upload}", body, headers)
        assert failure(answer) == (404, "NoSuchKey")
        assert body_of(proxy, key) is None
    finally:
        abort(proxy, key, upload)


@pytest.mark.parametrize("condition", ["if-match-wrong", "if-none-match-star", "if-match-right"])
def test_complete_conditions_on_an_existing_key(
    proxy: Proxy, existing: dict[str, str], condition: str
) -> None:
    key = existing["key"]
    upload, body = open_upload(proxy, key)
    headers: dict[str, Any] = {
        "if-match-wrong": {"If-Match": '"' + "0" * 32 + '"'},
        "if-none-match-star": {"If-None-Match": "*"},
        "if-match-right": {"If-Match": existing["etag"]},
    }[condition]
    try:
        answer = call(proxy, "POST", key, f"uploadId={upload}", body, headers)
        if condition == "if-match-right":
            assert answer.status == 200 and b"<Error>" not in answer.body, answer.body[:300]
            assert body_of(proxy, key) == b"mp"
        else:
            assert failure(answer) == (412, "PreconditionFailed")
            assert body_of(proxy, key) == b"old"
    finally:
        abort(proxy, key, upload)


# --- 4. Tagging --------------------------------------------------------------------------------


@pytest.fixture()
def tag_bucket(proxy: Proxy) -> Any:
    name = "answers-" + os.urandom(5).hex()
    s3 = proxy.client("alice")
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket(Bucket=name)


def tagging_body(count: int) -> bytes:
    tags = "".join(f"<Tag><Key>k{n}</Key><Value>v</Value></Tag>" for n in range(count))
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode()


def test_too_many_tags_is_bad_request(proxy: Proxy, tag_bucket: str) -> None:
    """AWS answers a tag count over the limit with 400 BadRequest, not InvalidTag:
    "BadRequest: Object tags cannot be greater than 10" (boto3#1213, terraform-aws-datadog-
    forwarders#24, both from AWS) and "Bucket tag count cannot be greater than 50"
    (versitygw#1209, checked against AWS)."""
    body = tagging_body(51)
    answer = call(proxy, "PUT", None, "tagging", body, {"Content-MD5": md5(body)}, tag_bucket)
    assert failure(answer) == (400, "BadRequest")
    key = unique("tags")
    assert call(proxy, "PUT", key, body=b"x").status == 200
    body = tagging_body(11)
    answer = call(proxy, "PUT", key, "tagging", body, {"Content-MD5": md5(body)})
    assert failure(answer) == (400, "BadRequest")
    header = "&".join(f"k{n}=v" for n in range(11))
    put = call(proxy, "PUT", unique("tags"), body=b"x", headers={"x-amz-tagging": header})
    assert failure(put) == (400, "BadRequest")


@pytest.mark.parametrize("condition", ["If-None-Match", "If-Match"])
def test_a_conditional_complete_never_replaces_an_object_unchecked(
    proxy: Proxy, existing: dict[str, str], condition: str
) -> None:
    """Ceph RGW 16 ignores both conditions on Complete: it answered 200 and replaced the
    object. Where the upstream does not check them the gateway refuses (501) before anything
    commits; the upload stays usable."""
    key = existing["key"]
    upload, body = open_upload(proxy, key)
    value = "*" if condition == "If-None-Match" else '"' + "0" * 32 + '"'
    try:
        answer = call(proxy, "POST", key, f"uploadId={upload}", body, {condition: value})
        assert failure(answer) in ((412, "PreconditionFailed"), (501, "NotImplemented"))
        assert body_of(proxy, key) == b"old"
        if answer.status == 501:
            assert call(proxy, "POST", key, f"uploadId={upload}", body).status == 200
            assert body_of(proxy, key) == b"mp"
    finally:
        abort(proxy, key, upload)


@pytest.mark.parametrize("if_match", ["*", "own"])
def test_a_copied_part_into_a_checksum_upload_keeps_its_source_conditions(
    proxy: Proxy, objects: dict[str, str], if_match: str
) -> None:
    """UploadPartCopy into an upload with a checksum (its bytes pass through the proxy) with
    ``x-amz-copy-source-if-match`` naming the source (``*`` or its own ETag): 200, as S3 (Ceph
    RGW 16 answers 412 to ``*`` for the object's own ETag, so the proxy decides it), and a
    stale ETag is 412."""
    s3 = proxy.client("alice")
    key = unique("copied-part")
    etag = s3.head_object(Bucket=BUCKET, Key=objects["ten"])["ETag"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32C")
    source = {"Bucket": BUCKET, "Key": objects["ten"]}
    try:
        copied = s3.upload_part_copy(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=1,
            CopySource=source,
            CopySourceIfMatch=etag if if_match == "own" else "*",
        )
        assert copied["CopyPartResult"]["ChecksumCRC32C"]
        with pytest.raises(ClientError) as caught:
            s3.upload_part_copy(
                Bucket=BUCKET,
                Key=key,
                UploadId=upload["UploadId"],
                PartNumber=2,
                CopySource=source,
                CopySourceIfMatch='"0123456789abcdef0123456789abcdef"',
            )
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    finally:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"])
