"""Tenants never see each other's data, and clients never see anything of the upstream."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, upstream_key
from tests.support.s3http import RawResponse, object_url, signed

pytestmark = pytest.mark.integration


def test_same_bucket_name_two_tenants_are_disjoint(proxy: Proxy) -> None:
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.put_object(Bucket="shared", Key="same/key", Body=b"alice's")
    bob.put_object(Bucket="shared", Key="same/key", Body=b"bob's")
    assert alice.get_object(Bucket="shared", Key="same/key")["Body"].read() == b"alice's"
    assert bob.get_object(Bucket="shared", Key="same/key")["Body"].read() == b"bob's"
    alice.put_object(Bucket="shared", Key="only/alice", Body=b"a")
    with pytest.raises(ClientError) as caught:
        bob.get_object(Bucket="shared", Key="only/alice")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
    bob.delete_object(Bucket="shared", Key="same/key")
    assert alice.get_object(Bucket="shared", Key="same/key")["Body"].read() == b"alice's"


def test_other_tenants_explicit_bucket_is_denied(proxy: Proxy) -> None:
    proxy.client("alice").put_object(Bucket="alice-photos", Key="private.jpg", Body=b"secret")
    bob = proxy.client("bob")
    for call in (
        lambda: bob.get_object(Bucket="alice-photos", Key="private.jpg"),
        lambda: bob.put_object(Bucket="alice-photos", Key="private.jpg", Body=b"overwrite"),
        lambda: bob.delete_object(Bucket="alice-photos", Key="private.jpg"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    got = proxy.client("alice").get_object(Bucket="alice-photos", Key="private.jpg")
    assert got["Body"].read() == b"secret"


def _exchanges(proxy: Proxy) -> list[RawResponse]:
    """A spread of successes and failures whose every byte is scanned for upstream names."""
    ak, sk = proxy.keys("alice")
    url = object_url(proxy.endpoint, "docs", "leak/probe.txt")
    missing = object_url(proxy.endpoint, "docs", "leak/missing.txt")
    return [
        signed("PUT", url, ak, sk, body=b"probe", headers={"x-amz-meta-a": "b"}),
        signed("GET", url, ak, sk),
        signed("HEAD", url, ak, sk),
        signed("GET", url, ak, sk, headers={"Range": "bytes=100-"}),
        signed("GET", url, ak, sk, headers={"If-Match": '"nope"'}),
        signed("GET", url, ak, sk, headers={"If-None-Match": "*"}),
        signed("GET", missing, ak, sk),
        signed("HEAD", missing, ak, sk),
        signed("GET", url, ak, "wrong-secret"),
        signed("PUT", url, ak, sk, body=b"x", headers={"If-None-Match": "*"}),
        signed("GET", object_url(proxy.endpoint, "docs", "k" * 1025), ak, sk),
        signed("GET", object_url(proxy.endpoint, "docs", "leak/x", "torrent"), ak, sk),
        signed("DELETE", url, ak, sk),
        signed("GET", object_url(proxy.endpoint, "alice-photos", "nothing"), ak, sk),
    ]


def test_no_upstream_detail_leaks_to_clients(proxy: Proxy) -> None:
    forbidden = [
        proxy.home_bucket,
        proxy.photos_bucket,
        *([proxy.upstream_access_key] if proxy.upstream_access_key else []),
        upstream_key("alice", "docs", "leak/probe.txt"),
        upstream_key("alice", "docs", "leak/missing.txt"),
        "alice/docs/",
        *([f"127.0.0.1:{proxy.upstream_port}"] if proxy.upstream_port else []),
        "SeaweedFS",
        "Traceback",
    ]
    responses = _exchanges(proxy)
    statuses = {response.status for response in responses}
    assert {200, 204, 304, 400, 403, 404, 412, 416, 501} <= statuses
    for response in responses:
        blob = response.body.decode("utf-8", "replace") + "\n".join(
            f"{name}: {value}" for name, value in response.headers
        )
        for needle in forbidden:
            assert needle not in blob, f"{needle!r} leaked in a {response.status} response"
