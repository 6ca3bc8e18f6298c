"""A bucket's settings change through one worker is seen by every other worker of the same
``serve`` before the change's response arrives, however long the bucket cache lifetime (an hour
here). Each request goes to a known worker: the others are frozen (tests/integration/
test_one_server.py)."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from tests.integration.conftest import Proxy
from tests.integration.test_one_server import WORKERS, only, workers_proxy  # noqa: F401
from tests.integration.test_workers import wait_for_workers
from tests.support.s3http import RawResponse, object_url, send, signed

pytestmark = pytest.mark.integration

ORIGIN = "https://app.example.com"
CORS = (
    b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
    b"<AllowedOrigin>https://app.example.com</AllowedOrigin></CORSRule></CORSConfiguration>"
)


def preflight(proxy: Proxy, bucket: str) -> RawResponse:
    headers = {"Host": proxy.host, "Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    return send("OPTIONS", object_url(proxy.endpoint, bucket, "k"), headers)


def cors(proxy: Proxy, method: str, bucket: str) -> RawResponse:
    url = object_url(proxy.endpoint, bucket, query="cors")
    if method != "PUT":
        return signed(method, url, *proxy.keys("alice"))
    md5 = base64.b64encode(hashlib.md5(CORS).digest()).decode()
    return signed(method, url, *proxy.keys("alice"), {"Content-MD5": md5}, CORS)


def test_a_cors_change_is_seen_by_every_worker_at_once(workers_proxy: Proxy) -> None:  # noqa: F811
    proxy = workers_proxy
    bucket = f"cors-{uuid.uuid4().hex[:12]}"
    workers = wait_for_workers(proxy, WORKERS)
    assert signed("PUT", object_url(proxy.endpoint, bucket), *proxy.keys("alice")).status == 200
    for worker in workers:  # each worker has "exists, no settings" cached, for an hour
        with only(worker, workers):
            assert preflight(proxy, bucket).status == 403
            plain = signed("GET", object_url(proxy.endpoint, bucket), *proxy.keys("alice"),
                           {"Origin": ORIGIN})  # fmt: skip
            assert plain.status == 200 and plain.header("Access-Control-Allow-Origin") is None
    writer, other = workers
    with only(writer, workers):
        assert cors(proxy, "PUT", bucket).status == 200
    with only(other, workers):
        assert preflight(proxy, bucket).status == 200
        listed = signed("GET", object_url(proxy.endpoint, bucket), *proxy.keys("alice"),
                        {"Origin": ORIGIN})  # fmt: skip
        assert listed.header("Access-Control-Allow-Origin") == ORIGIN
    with only(writer, workers):
        assert cors(proxy, "DELETE", bucket).status == 204
    with only(other, workers):
        assert preflight(proxy, bucket).status == 403
        assert cors(proxy, "GET", bucket).status == 404
        assert (
            signed("DELETE", object_url(proxy.endpoint, bucket), *proxy.keys("alice")).status == 204
        )
