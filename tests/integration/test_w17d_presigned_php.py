"""A presigned URL as the AWS SDK for PHP 3.0-3.17 wrote it, through the running gateway (wave 17,
D): ``X-Amz-SignedHeaders=Host``, with ``host`` in the canonical request. S3 serves it (S3 reads
signed header names lower-cased and sorted); the gateway answered 403 HeadersNotSigned host.
tests/unit/test_w17d_signed_headers.py has the other SignedHeaders forms. Decided before any
backend call: one lane.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import send

pytestmark = pytest.mark.integration


@pytest.mark.one_lane
def test_a_php_sdk_presigned_url_is_served(proxy: Proxy) -> None:
    """aws-sdk-php 3.0-3.17 presigned ``X-Amz-SignedHeaders=Host`` and signed ``host``, which S3
    serves (aws/aws-sdk-php#951); the gateway answered 403 HeadersNotSigned host."""
    proxy.client("alice").put_object(Bucket="docs", Key="w17d-php", Body=b"php")
    access_key, secret_key = proxy.keys("alice")
    now = datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={access_key}%2F"
        f"{scope.replace('/', '%2F')}&X-Amz-Date={amz_date}&X-Amz-Expires=300"
        "&X-Amz-SignedHeaders=Host"
    )
    canonical = f"GET\n/docs/w17d-php\n{query}\nhost:{proxy.host}\n\nhost\nUNSIGNED-PAYLOAD"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    key = ("AWS4" + secret_key).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    signature = hmac.new(
        key, f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}".encode(), "sha256"
    ).hexdigest()
    url = f"{proxy.endpoint}/docs/w17d-php?{query}&X-Amz-Signature={signature}"
    got = send("GET", url, {"Host": proxy.host})
    assert (got.status, got.body) == (200, b"php")
