"""Request targets as a hand signer writes them, through the running gateway (wave 17, D).

``//docs/k``: a client whose endpoint ends in ``/`` sends, and signs, a path whose first segment
is empty. The gateway read it as the service: a GET signed for an object answered 200 with the
tenant's bucket list, a PUT 405. It is now bucket "", which does not exist (404 NoSuchBucket),
and nothing is written. Decided while parsing, before any backend call: one lane.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import Proxy
from tests.support.s3http import send, sign

pytestmark = pytest.mark.integration


@pytest.mark.one_lane
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "//docs/k"), ("GET", "//"), ("PUT", "//docs/w17d-k")]
)
def test_an_empty_first_segment_is_a_bucket_that_does_not_exist(
    proxy: Proxy, method: str, path: str
) -> None:
    url = proxy.endpoint + path
    body = b"x" if method == "PUT" else b""
    got = send(method, url, sign(method, url, *proxy.keys("alice"), body=body), body)
    assert (got.status, got.error_code) == (404, "NoSuchBucket"), got.body[:300]
    if method == "PUT":
        listed = proxy.client("alice").list_objects_v2(Bucket="docs", Prefix="w17d-k")
        assert listed.get("KeyCount") == 0
