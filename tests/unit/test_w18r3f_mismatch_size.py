"""SignatureDoesNotMatch stays a small multiple of its request (wave 18, R3F of R3's review of
d8d9f55). Its CanonicalRequest and CanonicalRequestBytes fields echo what the gateway computed,
and a canonical request can be several times its request: a query of 15,000 ``!`` becomes
``%21`` each, then ``25 32 31`` in the Bytes field, so a ~15 KB request drew a ~180 KB error
from anyone who knows an access key id. The computed fields now share a bound; the
fields a client needs to compare with its own signing stay for ordinary requests."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3proxy.auth import mismatch
from s3proxy.auth.presigned import verify_presigned_v4
from s3proxy.auth.sigv4 import verify_header_auth
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.xmlcodec import error_xml
from tests.unit.test_w18b2_mismatch import (
    AK,
    V4_FIELDS,
    WRONG,
    Wire,
    lookup,
    presigned,
    v4_refusal,
    when,
)


def _signed(query: str) -> Wire:
    request = AWSRequest(method="GET", url=f"http://127.0.0.1:9000/bkt/k?{query}", data=b"")
    request.headers["Host"] = "127.0.0.1:9000"
    S3SigV4Auth(Credentials(AK, WRONG), "s3", "us-east-1").add_auth(request)
    split = urlsplit(request.url)
    headers = [(name, str(value)) for name, value in request.headers.items()]
    return request.method, split.path, split.query, headers


def _head_size(request: Wire) -> int:
    method, path, query, headers = request
    lines = [f"{method} {path}?{query} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return len("\r\n".join(lines).encode()) + 4


def test_a_query_of_percent_encoded_characters_draws_no_amplified_error() -> None:
    request = _signed("x=" + "!" * 15_000)
    error = v4_refusal(request)
    size = len(error_xml(error, "REQUESTID"))
    assert size <= 2 * _head_size(request), (size, _head_size(request))
    assert error.fields["AWSAccessKeyId"] == AK
    assert "SignatureProvided" in error.fields and "StringToSign" in error.fields


def test_an_ordinary_request_still_shows_every_field() -> None:
    error = v4_refusal(_signed("tagging"))
    assert list(error.fields) == V4_FIELDS


def test_the_fields_that_do_not_fit_are_left_out_in_order() -> None:
    canonical = b"GET\n/b/k\n" + b"x" * (
        mismatch.MAX_SHOWN // 2
    )  # fits; its hex (3 bytes each) not
    error = mismatch.signature_mismatch(AK, b"AWS4-HMAC-SHA256\n...", "sig", canonical)
    assert list(error.fields) == V4_FIELDS[:-1]
    computed = ("StringToSign", "StringToSignBytes", "CanonicalRequest")
    assert sum(len(error.fields[name]) for name in computed) <= mismatch.MAX_SHOWN


def test_an_unknown_long_access_key_draws_a_bounded_error() -> None:
    """InvalidAccessKeyId echoes the key sent (S3's AWSAccessKeyId field) and needs no valid
    key at all: a 12,000-character key of '&' (written &amp;) drew a ~60 KB error. AWS's key
    ids are at most 128 characters: no more is echoed, on the header-signed and presigned
    forms."""
    key = "&" * 12_000
    method, path, query, headers = _signed("tagging")
    headers = [
        (name, value.replace(f"Credential={AK}/", f"Credential={key}/")) for name, value in headers
    ]
    with pytest.raises(S3Error) as header_form:
        verify_header_auth(method, path, query, headers, lookup, when(headers))
    request, _ = presigned(WRONG)
    method, path, query, headers = request
    query = query.replace(f"X-Amz-Credential={AK}", f"X-Amz-Credential={'%26' * 12_000}")
    amz_date = query.split("X-Amz-Date=", 1)[1][:16]
    now = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    with pytest.raises(S3Error) as presigned_form:
        verify_presigned_v4(method, path, query, headers, lookup, now)
    for error in (header_form.value, presigned_form.value):
        assert error.code is S3ErrorCode.InvalidAccessKeyId
        assert error.fields["AWSAccessKeyId"] == "&" * mismatch.MAX_KEY_SHOWN
