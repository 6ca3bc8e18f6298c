"""Virtual-hosted addressing with several configured domains, one the suffix of another (wave 11,
G): the longest configured domain a Host ends in decides the bucket, and a Host that is itself a
configured domain is the endpoint (path style), whatever the order of ``virtual_host_domains``.

Before, the first listed domain the Host ended in won: with ``example.com`` and
``s3.example.com`` both listed, a path-style request to ``s3.example.com/docs/k`` addressed
bucket ``s3``, key ``docs/k`` (a write landed in another bucket of the tenant's, if it had one
named so), and ``b.s3.example.com`` addressed bucket ``b.s3``.
"""

from __future__ import annotations

import pytest

from s3proxy.request import parse_request
from tests.support.asgi import http_scope

BOTH_ORDERS = [["example.com", "s3.example.com"], ["s3.example.com", "example.com"]]


def addressed(host: str, path: str, domains: list[str]) -> tuple[str | None, str | None]:
    scope = http_scope("PUT", path)
    scope["headers"] = [(b"host", host.encode())]
    request = parse_request(scope, domains)
    return request.bucket, request.key


@pytest.mark.parametrize("domains", BOTH_ORDERS)
@pytest.mark.parametrize(
    ("host", "path", "bucket", "key"),
    [
        ("s3.example.com", "/docs/k", "docs", "k"),  # the endpoint itself: path style
        ("S3.Example.COM.:9000", "/docs/k", "docs", "k"),
        ("example.com:9000", "/docs/k", "docs", "k"),
        ("docs.s3.example.com", "/k", "docs", "k"),  # the longest domain, never "docs.s3"
        ("my.docs.s3.example.com.", "/a/b", "my.docs", "a/b"),  # a bucket name with dots
        ("docs.example.com", "/k", "docs", "k"),
        ("s3.example.com.evil.test", "/docs/k", "docs", "k"),  # no configured domain: path
        (".s3.example.com", "/docs/k", "docs", "k"),  # no label before the domain: no bucket
    ],
)
def test_the_longest_configured_domain_names_the_bucket(
    domains: list[str], host: str, path: str, bucket: str, key: str
) -> None:
    assert addressed(host, path, domains) == (bucket, key)
