"""The header policy (s3proxy.header_policy): every x-amz-* header acted on or refused."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from s3proxy.checksums import ALGORITHMS, header_name
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers import HANDLERS
from s3proxy.header_policy import HEADERS, PREFIXES, check_request_headers, rule_for
from s3proxy.operations import Operation, resolve
from s3proxy.request import S3Request, parse_request
from tests.support.asgi import http_scope

Op = Operation


def request(
    method: str = "PUT",
    path: str = "/bkt/k",
    headers: dict[str, str] | None = None,
    query: str = "",
) -> S3Request:
    return parse_request(http_scope(method, path, query, headers))


def refusal(
    operation: Operation,
    headers: dict[str, str] | None = None,
    query: str = "",
    *,
    ignore_unknown: bool = False,
) -> S3Error | None:
    try:
        check_request_headers(
            request(headers=headers, query=query), operation, ignore_unknown=ignore_unknown
        )
    except S3Error as error:
        return error
    return None


def answer(
    operation: Operation, headers: dict[str, str] | None = None, query: str = ""
) -> str | None:
    error = refusal(operation, headers, query)
    return None if error is None else error.code.name


# --- what default clients send is never refused ----------------------------------------------


class Captured(Exception):
    def __init__(self, prepared: Any) -> None:
        self.prepared = prepared


def _capture(endpoint: str, call: str, params: dict[str, Any]) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )

    def stop(request: Any, **_: Any) -> None:
        raise Captured(request)

    client.meta.events.register("before-send.s3", stop)
    with pytest.raises(Captured) as caught:
        getattr(client, call)(**params)
    return caught.value.prepared


UPLOAD_ID = "upload-token"
BOTO3_CALLS: list[tuple[str, dict[str, Any], Operation]] = [
    ("list_buckets", {}, Op.ListBuckets),
    ("create_bucket", {"Bucket": "bkt"}, Op.CreateBucket),
    ("create_bucket", {"Bucket": "bkt", "ACL": "private"}, Op.CreateBucket),
    ("head_bucket", {"Bucket": "bkt"}, Op.HeadBucket),
    ("delete_bucket", {"Bucket": "bkt"}, Op.DeleteBucket),
    ("get_bucket_location", {"Bucket": "bkt"}, Op.GetBucketLocation),
    ("get_bucket_versioning", {"Bucket": "bkt"}, Op.GetBucketVersioning),
    (
        "put_bucket_versioning",
        {"Bucket": "bkt", "VersioningConfiguration": {}},
        Op.PutBucketVersioning,
    ),
    ("list_objects", {"Bucket": "bkt"}, Op.ListObjects),
    ("list_objects_v2", {"Bucket": "bkt", "FetchOwner": True}, Op.ListObjectsV2),
    ("list_multipart_uploads", {"Bucket": "bkt"}, Op.ListMultipartUploads),
    ("delete_objects", {"Bucket": "bkt", "Delete": {"Objects": [{"Key": "k"}]}}, Op.DeleteObjects),
    ("put_object", {"Bucket": "bkt", "Key": "k", "Body": b"x"}, Op.PutObject),
    (
        "put_object",
        {"Bucket": "bkt", "Key": "k", "Body": io.BytesIO(b"x" * 100), "Metadata": {"a": "b"}},
        Op.PutObject,
    ),
    (
        "put_object",
        {"Bucket": "bkt", "Key": "k", "Body": b"x", "ChecksumAlgorithm": "SHA256"},
        Op.PutObject,
    ),
    ("get_object", {"Bucket": "bkt", "Key": "k", "ChecksumMode": "ENABLED"}, Op.GetObject),
    ("head_object", {"Bucket": "bkt", "Key": "k"}, Op.HeadObject),
    ("delete_object", {"Bucket": "bkt", "Key": "k"}, Op.DeleteObject),
    (
        "copy_object",
        {"Bucket": "bkt", "Key": "k", "CopySource": "src/k", "MetadataDirective": "REPLACE"},
        Op.CopyObject,
    ),
    (
        "create_multipart_upload",
        {"Bucket": "bkt", "Key": "k", "ChecksumAlgorithm": "CRC32", "Metadata": {"mtime": "1"}},
        Op.CreateMultipartUpload,
    ),
    (
        "upload_part",
        {"Bucket": "bkt", "Key": "k", "UploadId": UPLOAD_ID, "PartNumber": 1, "Body": b"x"},
        Op.UploadPart,
    ),
    (
        "upload_part_copy",
        {
            "Bucket": "bkt",
            "Key": "k",
            "UploadId": UPLOAD_ID,
            "PartNumber": 1,
            "CopySource": "src/k",
            "CopySourceRange": "bytes=0-1",
        },
        Op.UploadPartCopy,
    ),
    (
        "complete_multipart_upload",
        {
            "Bucket": "bkt",
            "Key": "k",
            "UploadId": UPLOAD_ID,
            "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"e"', "ChecksumCRC32": "A"}]},
        },
        Op.CompleteMultipartUpload,
    ),
    (
        "abort_multipart_upload",
        {"Bucket": "bkt", "Key": "k", "UploadId": UPLOAD_ID},
        Op.AbortMultipartUpload,
    ),
    ("list_parts", {"Bucket": "bkt", "Key": "k", "UploadId": UPLOAD_ID}, Op.ListParts),
]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://127.0.0.1:9000"])
@pytest.mark.parametrize(("call", "params", "operation"), BOTO3_CALLS)
def test_boto3_defaults_are_never_refused(
    endpoint: str, call: str, params: dict[str, Any], operation: Operation
) -> None:
    prepared = _capture(endpoint, call, params)
    url = urlsplit(prepared.url)
    headers = [
        (name.lower().encode(), (v.decode() if isinstance(v, bytes) else v).encode())
        for name, v in prepared.headers.items()
    ]
    parsed = parse_request(
        {
            "method": prepared.method,
            "path": url.path,
            "raw_path": url.path.encode(),
            "query_string": url.query.encode(),
            "headers": headers,
        }
    )
    assert resolve(parsed) is operation
    check_request_headers(parsed, operation, ignore_unknown=False)


def test_https_put_with_a_stream_sends_an_aws_chunked_trailer() -> None:
    """The https case above really covers aws-chunked with a trailer."""
    prepared = _capture(
        "https://127.0.0.1:9000",
        "put_object",
        {"Bucket": "bkt", "Key": "k", "Body": io.BytesIO(b"x" * 100)},
    )
    assert "x-amz-trailer" in {name.lower() for name in prepared.headers}


@pytest.mark.parametrize(
    ("operation", "headers"),
    [
        # rclone: a private ACL and its mtime; s3cmd: its attributes and an explicit class.
        (Op.PutObject, {"x-amz-acl": "private", "x-amz-meta-mtime": "1700000000.5"}),
        (Op.CreateBucket, {"x-amz-acl": "private"}),
        (Op.PutObject, {"x-amz-meta-s3cmd-attrs": "uid:0", "x-amz-storage-class": "STANDARD"}),
        (Op.CreateMultipartUpload, {"x-amz-storage-class": "STANDARD"}),
        (Op.CopyObject, {"x-amz-copy-source": "/a/b", "x-amz-metadata-directive": "COPY"}),
        (Op.PutObject, {"x-amz-acl": "bucket-owner-full-control"}),
        (Op.GetObject, {"x-amz-request-payer": "requester"}),
        (Op.HeadObject, {"x-amz-expected-bucket-owner": "123456789012"}),
        (Op.DeleteObject, {"x-amz-bypass-governance-retention": "true"}),
        (Op.CreateBucket, {"x-amz-bucket-object-lock-enabled": "false"}),
        (Op.CreateBucket, {"x-amz-object-ownership": "BucketOwnerEnforced"}),
        (Op.CopyObject, {"x-amz-copy-source": "/a/b", "x-amz-tagging-directive": "REPLACE"}),
        # Tags and storage classes: the handlers read and check them (s3proxy.tagging).
        (Op.PutObject, {"x-amz-storage-class": "GLACIER", "x-amz-tagging": "a=b"}),
        (Op.CreateMultipartUpload, {"x-amz-storage-class": "DEEP_ARCHIVE", "x-amz-tagging": ""}),
        (Op.CopyObject, {"x-amz-copy-source": "/a/b", "x-amz-storage-class": "STANDARD_IA"}),
        (Op.GetObject, {"X-Amz-User-Agent": "aws-sdk-js/2", "amz-sdk-request": "attempt=1"}),
    ],
)
def test_headers_that_ask_for_nothing_new_are_accepted(
    operation: Operation, headers: dict[str, str]
) -> None:
    assert refusal(operation, headers) is None


# --- the explicit answers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "header", "value", "code"),
    [
        # Public ACLs and grants pass here: s3proxy.acl judges them per operation.
        (Op.PutObject, "x-amz-acl", "aws-exec-read", "NotImplemented"),
        (Op.CreateBucket, "x-amz-acl", "log-delivery-write", "NotImplemented"),
        (Op.CopyObject, "x-amz-acl", "aws-exec-read", "NotImplemented"),
        (Op.CreateMultipartUpload, "x-amz-acl", "log-delivery-write", "NotImplemented"),
        (Op.PutObject, "x-amz-acl", "bogus", "InvalidArgument"),
        (Op.PutObject, "x-amz-grant-everything", 'id="123"', "NotImplemented"),
        (Op.UploadPart, "x-amz-grant-read", 'id="123"', "NotImplemented"),
        (Op.GetObject, "x-amz-acl", "private", "NotImplemented"),
        # SSE-KMS details; SSE headers where S3 takes none (s3proxy.sse answers the rest).
        # Sent without aws:kms, a key id or context is S3's 400 (test_w12b_sse_on_reads.py).
        (Op.PutObject, "x-amz-server-side-encryption-aws-kms-key-id", "k", "InvalidArgument"),
        (Op.PutObject, "x-amz-server-side-encryption-context", "e30=", "InvalidArgument"),
        (
            Op.CopyObject,
            "x-amz-server-side-encryption-bucket-key-enabled",
            "true",
            "NotImplemented",
        ),
        (Op.GetObject, "x-amz-server-side-encryption", "AES256", "InvalidArgument"),  # S3's 400
        (Op.UploadPart, "x-amz-server-side-encryption", "AES256", "NotImplemented"),
        (Op.DeleteObject, "x-amz-server-side-encryption-customer-key", "a2V5", "NotImplemented"),
        (
            Op.PutObject,
            "x-amz-copy-source-server-side-encryption-customer-key",
            "a2V5",
            "NotImplemented",
        ),
        (Op.PutObject, "x-amz-object-lock-mode", "GOVERNANCE", "InvalidRequest"),
        (
            Op.PutObject,
            "x-amz-object-lock-retain-until-date",
            "2030-01-01T00:00:00Z",
            "InvalidRequest",
        ),
        (Op.CreateMultipartUpload, "x-amz-object-lock-legal-hold", "ON", "InvalidRequest"),
        (Op.CopyObject, "x-amz-object-lock-mode", "COMPLIANCE", "InvalidRequest"),
        (Op.CreateBucket, "x-amz-bucket-object-lock-enabled", "true", "NotImplemented"),
        (Op.CreateBucket, "x-amz-bucket-object-lock-enabled", "maybe", "InvalidArgument"),
        (Op.CreateBucket, "x-amz-object-ownership", "ObjectWriter", "NotImplemented"),
        (Op.CreateBucket, "x-amz-object-ownership", "BucketOwnerPreferred", "NotImplemented"),
        (Op.CreateBucket, "x-amz-object-ownership", "Nobody", "InvalidArgument"),
        (Op.PutObject, "x-amz-website-redirect-location", "/other", "NotImplemented"),
        (Op.DeleteObject, "x-amz-mfa", "SERIAL 123456", "NotImplemented"),
        (Op.DeleteObjects, "x-amz-mfa", "SERIAL 123456", "NotImplemented"),
        (Op.GetObject, "x-amz-security-token", "FQoGZXIvYXdz", "InvalidToken"),
        (Op.ListBuckets, "x-amz-security-token", "FQoGZXIvYXdz", "InvalidToken"),
    ],
)
def test_explicit_answers(operation: Operation, header: str, value: str, code: str) -> None:
    headers = {header: value}
    if operation in (Op.CopyObject, Op.UploadPartCopy):
        headers["x-amz-copy-source"] = "/src/k"
    error = refusal(operation, headers)
    assert error is not None and error.code.name == code
    if code == "NotImplemented":
        assert error.fields["Header"] == header
    if code == "InvalidRequest":
        assert error.message == "Bucket is missing Object Lock Configuration"
    if code == "InvalidStorageClass":
        assert error.status == 400 and error.fields["StorageClassRequested"] == value


def test_explicit_answers_hold_even_when_unknown_headers_are_ignored() -> None:
    for headers in (
        {"x-amz-acl": "log-delivery-write"},
        {"x-amz-server-side-encryption-aws-kms-key-id": "k"},
        {"x-amz-object-lock-mode": "GOVERNANCE"},
    ):
        assert refusal(Op.PutObject, headers, ignore_unknown=True) is not None


# --- headers an operation does not act on -------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "header"),
    [
        (Op.PutObject, "x-amz-fancy-new-feature"),
        (Op.GetObject, "x-amz-checksum-sha512"),  # an algorithm the gateway does not compute
        (Op.PutObject, "x-amz-checksum-xxhash64"),
        (Op.PutObject, "x-amz-write-offset-bytes"),
        (Op.DeleteObject, "x-amz-if-match-size"),
        (Op.UploadPart, "x-amz-mp-object-size"),  # Complete takes it
        (Op.UploadPart, "x-amz-checksum-type"),  # Create and Complete take it
        (Op.ListObjectsV2, "x-amz-optional-object-attributes"),
        (Op.CreateBucket, "x-amz-bucket-namespace"),
        (Op.CopyObject, "x-amz-object-annotation-directive"),
        (Op.UploadPart, "x-amz-meta-a"),  # metadata belongs to CreateMultipartUpload
        (Op.UploadPart, "x-amz-acl"),
        (Op.UploadPart, "x-amz-storage-class"),
        (Op.PutObject, "x-amz-copy-source-range"),
        (Op.UploadPartCopy, "x-amz-checksum-algorithm"),  # CopyObject takes it (B, wave 10)
        (Op.DeleteObjects, "x-amz-trailer"),
        (Op.HeadBucket, "x-amz-bucket-object-lock-enabled"),
        (Op.DeleteObject, "x-amz-object-lock-mode"),
    ],
)
def test_a_header_an_operation_does_not_act_on_is_501_naming_it(
    operation: Operation, header: str
) -> None:
    headers = {header: "x"}
    if operation is Op.CopyObject:
        headers["x-amz-copy-source"] = "/src/k"
    error = refusal(operation, headers)
    assert error is not None
    assert (error.code, error.status, error.fields) == (
        S3ErrorCode.NotImplemented,
        501,
        {"Header": header},
    )


def test_ignore_unknown_ignores_only_names_the_table_does_not_know() -> None:
    assert refusal(Op.PutObject, {"x-amz-fancy-new-feature": "1"}, ignore_unknown=True) is None
    # A checksum algorithm or an x-amz-if-* condition S3 defines (or adds later) is named by
    # a family: dropped, the checksum would go unverified, the delete be unconditional.
    for operation, name in (
        (Op.PutObject, "x-amz-checksum-sha512"),
        (Op.PutObject, "x-amz-checksum-xxhash4096"),
        (Op.DeleteObject, "x-amz-if-match-size"),
        (Op.PutObject, "x-amz-write-offset-bytes"),
    ):
        error = refusal(operation, {name: "x"}, ignore_unknown=True)
        assert error is not None and error.fields == {"Header": name}
    # Named by the table, but not for this operation: still refused.
    error = refusal(Op.UploadPart, {"x-amz-meta-a": "1"}, ignore_unknown=True)
    assert error is not None and error.fields == {"Header": "x-amz-meta-a"}


def test_every_repeat_of_a_header_is_checked() -> None:
    raw = request(headers={})
    repeated = S3Request(
        method=raw.method,
        raw_path=raw.raw_path,
        query_string="",
        query={},
        headers=[("x-amz-acl", "private"), ("x-amz-acl", "aws-exec-read")],
        header_map={"x-amz-acl": "private,aws-exec-read"},
        bucket="bkt",
        key="k",
    )
    with pytest.raises(S3Error) as caught:
        check_request_headers(repeated, Op.PutObject, ignore_unknown=False)
    assert caught.value.code is S3ErrorCode.NotImplemented


# --- headers hoisted into the query string ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("x-amz-acl=aws-exec-read", "NotImplemented"),
        ("x-amz-acl=public-read", None),  # s3proxy.acl reads the hoisted form too
        ("x-amz-acl=private", None),
        ("x-amz-storage-class=STANDARD", "NotImplemented"),  # the handler reads the header
        ("x-amz-tagging=a%3Db", "NotImplemented"),
        ("x-amz-server-side-encryption=AES256", "NotImplemented"),
        ("x-amz-object-lock-mode=GOVERNANCE", "InvalidRequest"),
        ("X-Amz-Security-Token=FQoGZXIvYXdz", "InvalidToken"),
        ("x-amz-expected-bucket-owner=123456789012", None),  # s3proxy.owner reads the query
        ("x-amz-sdk-checksum-algorithm=CRC32", None),
        # Handlers read these from headers only: refused, never silently dropped.
        ("x-amz-meta-colour=red", "NotImplemented"),
        ("x-amz-checksum-crc32=AAAAAA%3D%3D", "NotImplemented"),
        ("x-amz-unknown=1", "NotImplemented"),
        # SigV4 query authentication and plain parameters are not headers.
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=20250101T000000Z"
            "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
            "&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD",
            None,
        ),
        ("x-id=PutObject", None),
    ],
)
def test_hoisted_query_headers(query: str, code: str | None) -> None:
    assert answer(Op.PutObject, query=query) == code


def test_a_hoisted_header_is_named_in_the_refusal() -> None:
    error = refusal(Op.PutObject, query="x-amz-meta-colour=red")
    assert error is not None and error.fields == {"Header": "x-amz-meta-colour"}


# --- the table itself ---------------------------------------------------------------------


def test_every_checksum_the_gateway_computes_is_in_the_table() -> None:
    for algorithm in ALGORITHMS:
        rule = HEADERS[header_name(algorithm)]
        assert rule.operations is not None and Op.PutObject in rule.operations


def test_no_family_prefix_shadows_another() -> None:
    for prefix in PREFIXES:
        assert not any(p != prefix and p.startswith(prefix) for p in PREFIXES)
        assert prefix.startswith("x-amz-") and prefix.endswith("-")


def test_the_table_names_only_served_operations_and_lower_case_headers() -> None:
    for name, rule in {**HEADERS, **PREFIXES}.items():
        assert name == name.lower() and name.startswith("x-amz-")
        if rule.operations is not None:
            assert rule.operations <= set(HANDLERS), name


def test_exact_entries_win_over_families() -> None:
    assert rule_for("x-amz-server-side-encryption") is HEADERS["x-amz-server-side-encryption"]
    assert rule_for("x-amz-copy-source") is HEADERS["x-amz-copy-source"]
    assert rule_for("x-amz-meta-") is PREFIXES["x-amz-meta-"]
    assert rule_for("x-amz-nothing") is None
