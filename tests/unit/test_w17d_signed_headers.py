"""SignedHeaders as S3 reads them: names lower-cased and sorted (wave 17, D).

The spec has clients list signed headers in lower case and sorted. S3 does not require it:
the AWS SDK for PHP presigned URLs with ``X-Amz-SignedHeaders=Host`` (3.0 to 3.17,
aws/aws-sdk-php#951) and lists presigned headers unsorted while signing them sorted
(aws/aws-sdk-php#3109), and S3 serves both; a signer that listed and signed its headers out of
order was refused (saltstack/salt#40536). The gateway took the list verbatim: the PHP
URLs were 403 (HeadersNotSigned host, SignatureDoesNotMatch) and the unsorted canonical request
was accepted. An empty ``X-Amz-SignedHeaders`` is S3's 403 AccessDenied naming host
(brendanhay/amazonka#272), where it was 400 AuthorizationQueryParametersError. An expiry past a
week is refused in S3's words.

Requests are signed by hand here, each canonical request written out: botocore always lists
names lower-cased and sorted, so it cannot sign these.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from s3proxy.auth.presigned import parse_expires, verify_presigned_v4
from s3proxy.auth.sigv4 import VerifiedSigV4, parse_authorization, verify_header_auth
from s3proxy.errors import S3Error, S3ErrorCode

AK, SK = "AKIAW17DEXAMPLE00001", "w17d-secret-key-0123456789abcdefghij"
NOW = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
AMZ_DATE = "20261205T143000Z"
SCOPE = "20261205/us-east-1/s3/aws4_request"
HOST = "127.0.0.1:9000"
UNSIGNED = "UNSIGNED-PAYLOAD"


def _signature(canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{AMZ_DATE}\n{SCOPE}\n{digest}"
    key = ("AWS4" + SK).encode()
    for part in ("20261205", "us-east-1", "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return hmac.new(key, to_sign.encode(), "sha256").hexdigest()


def _canonical(query: str, lines: Sequence[tuple[str, str]], payload: str = UNSIGNED) -> str:
    """GET /docs/k with ``query`` (already canonical) and the header lines in the order given."""
    headers = "".join(f"{name}:{value}\n" for name, value in lines)
    names = ";".join(name for name, _ in lines)
    return f"GET\n/docs/k\n{query}\n{headers}\n{names}\n{payload}"


HEADERS = [("Host", HOST), ("x-amz-content-sha256", UNSIGNED), ("x-amz-date", AMZ_DATE)]
SORTED = [("host", HOST), ("x-amz-content-sha256", UNSIGNED), ("x-amz-date", AMZ_DATE)]


def _header_auth(listed: str, canonical_lines: Sequence[tuple[str, str]]) -> None:
    signature = _signature(_canonical("", canonical_lines))
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE}, SignedHeaders={listed}, Signature={signature}"
    )
    headers = [*HEADERS, ("Authorization", authorization)]
    verify_header_auth("GET", "/docs/k", "", headers, {AK: SK}.get, NOW)


@pytest.mark.parametrize(
    "listed",
    [
        "Host;X-Amz-Content-Sha256;X-Amz-Date",
        "x-amz-date;host;x-amz-content-sha256",
        "X-AMZ-DATE;x-amz-content-sha256;HOST",
    ],
)
def test_header_auth_reads_the_names_lower_cased_and_sorted(listed: str) -> None:
    _header_auth(listed, SORTED)
    assert parse_authorization(
        f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE}, SignedHeaders={listed}, Signature=00"
    ).signed_headers == ("host", "x-amz-content-sha256", "x-amz-date")


def test_a_canonical_request_signed_in_another_order_does_not_match() -> None:
    unsorted = [SORTED[2], SORTED[0], SORTED[1]]
    with pytest.raises(S3Error) as refused:
        _header_auth("x-amz-date;host;x-amz-content-sha256", unsorted)
    assert refused.value.code is S3ErrorCode.SignatureDoesNotMatch


def _presigned_query(listed: str) -> str:
    """The query of a presigned GET, canonical (sorted, encoded) but for the signature."""
    return (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AK}%2F{SCOPE.replace('/', '%2F')}"
        f"&X-Amz-Date={AMZ_DATE}&X-Amz-Expires=300&X-Amz-SignedHeaders={listed}"
    )


def _presigned(
    listed: str, lines: Sequence[tuple[str, str]], sent: Sequence[tuple[str, str]]
) -> VerifiedSigV4:
    query = _presigned_query(listed)
    signature = _signature(_canonical(query, lines))
    return verify_presigned_v4(
        "GET", "/docs/k", f"{query}&X-Amz-Signature={signature}", sent, {AK: SK}.get, NOW
    )


def test_a_php_sdk_presigned_url_signing_host_as_host() -> None:
    """aws-sdk-php 3.0-3.17: ``X-Amz-SignedHeaders=Host`` in the URL, ``host`` signed."""
    verified = _presigned("Host", [("host", HOST)], [("Host", HOST)])
    assert verified.access_key == AK


def test_a_presigned_url_listing_its_headers_unsorted() -> None:
    """aws-sdk-php lists presigned headers in the request's order, signs them sorted."""
    sent = [("Host", HOST), ("x-amz-meta-a", "1")]
    lines = [("host", HOST), ("x-amz-meta-a", "1")]
    assert _presigned("x-amz-meta-a%3Bhost", lines, sent).access_key == AK
    with pytest.raises(S3Error) as refused:  # signed in the listed order: S3 refuses it too
        _presigned("x-amz-meta-a%3Bhost", lines[::-1], sent)
    assert refused.value.code is S3ErrorCode.SignatureDoesNotMatch


def test_an_empty_presigned_header_list_has_not_signed_host() -> None:
    with pytest.raises(S3Error) as refused:
        _presigned("", [], [("Host", HOST)])
    assert refused.value.code is S3ErrorCode.AccessDenied
    assert refused.value.fields == {"HeadersNotSigned": "host"}


def test_an_expiry_over_a_week_is_refused_in_s3s_words() -> None:
    """The message MinIO, Swift's s3api and versitygw give, after S3; it read "(in seconds) that
    is; 604800 seconds"."""
    with pytest.raises(S3Error) as refused:
        parse_expires("604801")
    assert refused.value.code is S3ErrorCode.AuthorizationQueryParametersError
    assert refused.value.message == (
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
        "must be less than 604800 seconds"
    )
