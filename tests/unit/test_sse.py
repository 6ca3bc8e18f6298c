"""s3proxy.sse: SSE-C keys checked as S3 checks them, SSE-S3 and SSE-KMS answered, and only the
upstreams whose ``sse`` setting lists a mode get it."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from pydantic import ValidationError

from s3proxy import sse
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.header_policy import check_request_headers
from s3proxy.model import CustomerKey, Encryption
from s3proxy.operations import Operation
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
KEY_MD5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()


def customer(
    prefix: str = sse.CUSTOMER, overrides: dict[str, str | None] | None = None
) -> dict[str, str]:
    values: dict[str, str | None] = {"algorithm": "AES256", "key": KEY_B64, "key-md5": KEY_MD5}
    values.update(overrides or {})
    return {prefix + name: value for name, value in values.items() if value is not None}


def error_of(call: Any, *args: Any) -> S3Error:
    with pytest.raises(S3Error) as caught:
        call(*args)
    return caught.value


# --- SSE-C keys --------------------------------------------------------------------------


def test_a_good_key_is_read_and_never_shown_in_repr() -> None:
    key = sse.customer_key(customer())
    assert key == CustomerKey("AES256", KEY_B64, KEY_MD5)
    assert KEY_B64 not in repr(key) and KEY_B64 not in repr(Encryption(customer_key=key))


def test_the_copy_source_key_is_read_from_its_own_headers() -> None:
    headers = customer(sse.SOURCE_CUSTOMER)
    assert sse.customer_key(headers) is None
    assert sse.customer_key(headers, sse.SOURCE_CUSTOMER) == CustomerKey("AES256", KEY_B64, KEY_MD5)


@pytest.mark.parametrize(
    ("overrides", "argument", "message"),
    [
        ({"algorithm": None}, "algorithm", "must provide a valid encryption algorithm"),
        ({"algorithm": "AES128"}, "algorithm", "must provide a valid encryption algorithm"),
        ({"key": None}, "key", "must provide an appropriate secret key"),
        ({"key-md5": None}, "key-md5", "must provide the client calculated MD5"),
        (
            {"key": base64.b64encode(KEY[:16]).decode()},
            "key",
            "The secret key was invalid for the specified algorithm",
        ),
        ({"key": "not base64!"}, "key", "The secret key was invalid"),
        (
            {"key-md5": base64.b64encode(hashlib.md5(b"other").digest()).decode()},
            "key-md5",
            "The calculated MD5 hash of the key did not match",
        ),
    ],
)
def test_a_bad_key_is_400_invalid_argument(
    overrides: dict[str, str | None], argument: str, message: str
) -> None:
    error = error_of(sse.customer_key, customer(overrides=overrides))
    assert error.code is S3ErrorCode.InvalidArgument and error.status == 400
    assert message in error.message
    assert error.fields["ArgumentName"] == sse.CUSTOMER + argument


# --- what a write asks for -----------------------------------------------------------------


def test_no_header_asks_for_nothing() -> None:
    assert sse.write_encryption({}) is None
    assert sse.part_encryption({"content-length": "1"}) is None


def test_sse_s3_and_sse_c() -> None:
    assert sse.write_encryption({sse.SSE: "AES256"}) == Encryption(algorithm="AES256")
    key = CustomerKey("AES256", KEY_B64, KEY_MD5)
    assert sse.write_encryption(customer()) == Encryption(customer_key=key)
    assert sse.part_encryption(customer()) == Encryption(customer_key=key)


@pytest.mark.parametrize("value", ["aws:kms", "aws:kms:dsse"])
def test_sse_kms_is_501(value: str) -> None:
    error = error_of(sse.write_encryption, {sse.SSE: value})
    assert error.code is S3ErrorCode.NotImplemented and error.fields["Header"] == sse.SSE


def test_an_unknown_method_or_both_methods_are_400() -> None:
    assert error_of(sse.write_encryption, {sse.SSE: "ROT13"}).code is S3ErrorCode.InvalidArgument
    both = {sse.SSE: "AES256", **customer()}
    assert error_of(sse.write_encryption, both).code is S3ErrorCode.InvalidArgument


# --- which upstream may do it ----------------------------------------------------------------


class Upstream:
    def __init__(self, *modes: str) -> None:
        self.encryption_modes = frozenset(modes)


class LocalStore:
    pass


@pytest.mark.parametrize(
    ("backend", "encryption", "allowed"),
    [
        (Upstream("SSE-C", "AES256"), Encryption(algorithm="AES256"), True),
        (Upstream("SSE-C"), Encryption(algorithm="AES256"), False),
        (Upstream("SSE-C"), CustomerKey("AES256", KEY_B64, KEY_MD5), True),
        (Upstream("AES256"), CustomerKey("AES256", KEY_B64, KEY_MD5), False),
        (Upstream(), Encryption(algorithm="AES256"), False),
        (LocalStore(), Encryption(customer_key=CustomerKey("AES256", KEY_B64, KEY_MD5)), False),
        (LocalStore(), None, True),
    ],
)
def test_only_listed_modes_reach_an_upstream(
    backend: object, encryption: Encryption | CustomerKey | None, allowed: bool
) -> None:
    if allowed:
        sse.require_support(backend, encryption)
    else:
        error = error_of(sse.require_support, backend, encryption)
        assert error.code is S3ErrorCode.NotImplemented and error.status == 501


def test_the_upstream_setting() -> None:
    endpoint = "http://127.0.0.1:1"
    config = UpstreamConfig.model_validate({"endpoint": endpoint, "sse": ["SSE-C", "AES256"]})
    assert config.sse == ("SSE-C", "AES256")
    assert UpstreamConfig(endpoint=endpoint).sse == ()
    with pytest.raises(ValidationError):
        UpstreamConfig.model_validate({"endpoint": endpoint, "sse": ["aws:kms"]})


# --- what a read answers -------------------------------------------------------------------


def test_an_sse_c_object_is_never_returned_without_its_key() -> None:
    stored = {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
    error = error_of(sse.check_read, stored, None)
    assert error.code is S3ErrorCode.InvalidRequest and error.status == 400


def test_a_key_the_object_was_not_stored_with_is_access_denied() -> None:
    other = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    stored = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key-md5": other,
    }
    key = CustomerKey("AES256", KEY_B64, KEY_MD5)
    assert error_of(sse.check_read, stored, key).code is S3ErrorCode.AccessDenied
    sse.check_read({**stored, "x-amz-server-side-encryption-customer-key-md5": KEY_MD5}, key)


def test_a_key_for_an_object_stored_without_one_is_400() -> None:
    key = CustomerKey("AES256", KEY_B64, KEY_MD5)
    assert error_of(sse.check_read, {}, key).code is S3ErrorCode.InvalidRequest
    sse.check_read({}, None)


def test_a_repeated_upstream_value_is_reported_once() -> None:
    assert sse.reported(f"{KEY_MD5}, {KEY_MD5}") == KEY_MD5
    assert sse.reported("AES256") == "AES256"
    assert sse.reported("a, b") == "a, b"


def test_write_answers_carry_s3s_headers() -> None:
    key = CustomerKey("AES256", KEY_B64, KEY_MD5)
    assert sse.response_headers(Encryption(customer_key=key)) == [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key-MD5", KEY_MD5),
    ]
    assert sse.response_headers(Encryption(algorithm="AES256")) == [(sse.SSE, "AES256")]
    assert sse.response_headers(None) == []


# --- the header policy lets them through to s3proxy.sse where S3 takes them ----------------


@pytest.mark.parametrize(
    ("operation", "headers"),
    [
        (Operation.PutObject, {sse.SSE: "AES256"}),
        (Operation.CreateMultipartUpload, {sse.SSE: "AES256", **customer()}),
        (Operation.PutObject, customer()),
        (Operation.GetObject, customer()),
        (Operation.HeadObject, customer()),
        (Operation.UploadPart, customer()),
        (Operation.CompleteMultipartUpload, customer()),
        (Operation.CopyObject, {**customer(), **customer(sse.SOURCE_CUSTOMER)}),
        (Operation.UploadPartCopy, {**customer(), **customer(sse.SOURCE_CUSTOMER)}),
    ],
)
def test_the_header_policy_passes_them_on(operation: Operation, headers: dict[str, str]) -> None:
    if operation in (Operation.CopyObject, Operation.UploadPartCopy):
        headers = {**headers, "x-amz-copy-source": "/src/k"}
    request = parse_request(http_scope("PUT", "/bkt/k", "", headers))
    check_request_headers(request, operation, ignore_unknown=False)


def test_a_customer_key_over_plain_http_is_400_where_it_would_be_served() -> None:
    """S3 refuses SSE-C over HTTP; where the upstream cannot do SSE-C at all, a write's refusal
    stays 501 whatever the transport (the proxy does not do it, over TLS either). A read's key
    there is answered as S3 answers it for a plain object (sse.for_object_read,
    test_w14h2_sse_reads)."""
    key = CustomerKey("AES256", KEY_B64, KEY_MD5)
    with pytest.raises(S3Error) as caught:
        sse.require_support(Upstream("SSE-C"), key, secure=False)
    assert caught.value.code is S3ErrorCode.InvalidRequest and caught.value.status == 400
    assert "secure connection" in caught.value.message
    sse.require_support(Upstream("SSE-C"), key, secure=True)
    sse.require_support(Upstream("AES256"), Encryption(algorithm="AES256"), secure=False)
    with pytest.raises(S3Error) as local:
        sse.require_support(LocalStore(), key, secure=False)
    assert local.value.code is S3ErrorCode.NotImplemented
