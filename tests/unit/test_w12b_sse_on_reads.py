"""Malformed encryption requests get S3's 400, not the 501 of a feature the gateway lacks.

SSE-S3 and SSE-KMS request headers on GetObject and HeadObject: S3 takes them on writes only
and answers a read carrying one 400 InvalidArgument (GetObject's page; s3-tests'
test_sse_s3_default_method_head, test_sse_kms_read_declare, test_sse_kms_method_head). A KMS
key id or context on a write without ``x-amz-server-side-encryption: aws:kms``, or beside an
SSE-C key, is 400 InvalidArgument too (test_sse_kms_not_declared,
test_put_obj_enc_conflict_s3_kms, test_put_obj_enc_conflict_c_kms). The gateway answered all
of these 501 NotImplemented. The SSE-C key headers stay accepted on reads (the object's key),
and a well-formed SSE-KMS write stays 501."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error
from s3proxy.header_policy import check_request_headers
from s3proxy.operations import Operation
from s3proxy.request import parse_request
from tests.support.asgi import http_scope


def answer(method: str, operation: Operation, headers: dict[str, str]) -> str | None:
    request = parse_request(http_scope(method, "/bkt/k", "", headers))
    try:
        check_request_headers(request, operation, ignore_unknown=False)
    except S3Error as error:
        return f"{error.code.value[0]} {error.code.name}"
    return None


@pytest.mark.parametrize(
    "header",
    [
        ("x-amz-server-side-encryption", "AES256"),
        ("x-amz-server-side-encryption", "aws:kms"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "testkey-1"),
        ("x-amz-server-side-encryption-context", "e30="),
        ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
    ],
)
@pytest.mark.parametrize(
    ("method", "operation"), [("GET", Operation.GetObject), ("HEAD", Operation.HeadObject)]
)
def test_write_side_encryption_on_a_read_is_400(
    method: str, operation: Operation, header: tuple[str, str]
) -> None:
    assert answer(method, operation, dict([header])) == "400 InvalidArgument"


def test_the_customer_key_is_still_taken_on_reads_and_kms_still_501_on_writes() -> None:
    customer = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": "a2V5",
        "x-amz-server-side-encryption-customer-key-md5": "bWQ1",
    }
    assert answer("GET", Operation.GetObject, customer) is None
    kms = {"x-amz-server-side-encryption": "aws:kms"}
    kms["x-amz-server-side-encryption-aws-kms-key-id"] = "testkey-1"
    assert answer("PUT", Operation.PutObject, kms) == "501 NotImplemented"
    assert answer("PUT", Operation.PutObject, {"x-amz-server-side-encryption": "AES256"}) is None


KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
CUSTOMER_KEY = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": "a2V5",
    "x-amz-server-side-encryption-customer-key-md5": "bWQ1",
}


@pytest.mark.parametrize(
    "headers",
    [
        {KMS_KEY: "testkey-2"},  # not declared
        {"x-amz-server-side-encryption-context": "e30="},
        {"x-amz-server-side-encryption": "AES256", KMS_KEY: "k"},
        {
            "x-amz-server-side-encryption": "aws:kms",
            KMS_KEY: "k",
            **CUSTOMER_KEY,
        },
    ],
)
@pytest.mark.parametrize("operation", [Operation.PutObject, Operation.CopyObject])
def test_a_kms_key_without_kms_is_400(operation: Operation, headers: dict[str, str]) -> None:
    if operation is Operation.CopyObject:
        headers = {"x-amz-copy-source": "/src/k", **headers}
    assert answer("PUT", operation, headers) == "400 InvalidArgument"
