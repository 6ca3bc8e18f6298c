"""A path-style request target whose first segment is empty (wave 17, D).

``GET //docs/k`` (a client whose endpoint ends in ``/`` writes one, and signs it as sent: S3 never
normalises a path) was read as the service, so a GET signed for object ``docs/k`` was answered
200 with the tenant's bucket list and a PUT or DELETE 405. The first segment is the bucket
whenever a ``/`` follows it, even when empty: bucket "", which no bucket is named, so the
request is answered as one for a bucket that does not exist. ``/`` alone stays the service.
"""

from __future__ import annotations

import pytest

from s3proxy.request import parse_request
from tests.support.asgi import http_scope


@pytest.mark.parametrize(
    ("path", "bucket", "key"),
    [
        ("//docs/k", "", "docs/k"),
        ("//docs", "", "docs"),
        ("//", "", None),
        ("///k", "", "/k"),
        ("/%2Fdocs/k", "/docs", "k"),
        # unchanged
        ("/", None, None),
        ("/docs", "docs", None),
        ("/docs/", "docs", None),
        ("/docs//k", "docs", "/k"),
        ("/docs/k/", "docs", "k/"),
    ],
)
def test_the_first_segment_is_the_bucket_even_when_empty(
    path: str, bucket: str | None, key: str | None
) -> None:
    request = parse_request(http_scope("GET", path))
    assert (request.bucket, request.key) == (bucket, key)


def test_a_virtual_hosted_bucket_keeps_a_key_that_starts_with_a_slash() -> None:
    scope = http_scope("GET", "//k")
    scope["headers"] = [(b"host", b"docs.s3.example.com")]
    request = parse_request(scope, ["s3.example.com"])
    assert (request.bucket, request.key) == ("docs", "/k")
