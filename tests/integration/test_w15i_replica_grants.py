"""An anonymous write is granted by the bucket's ACL as stored, never by another replica's
cached copy (wave 15, I). The two-replica fuzz (test_w15i_replicas.py) found it: a bucket made
private through one replica still took anonymous PUTs, DELETEs and DeleteObjects through
another for up to ``server.bucket_cache_seconds`` (README promised only reads for that long).
Two single-worker replicas with a 30-s cache on SeaweedFS (Ceph RGW too when named)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest

from tests.integration.conftest import UPSTREAM, Proxy, create_upstream_buckets, start_proxy
from tests.integration.relayed import UPSTREAMS
from tests.integration.test_w14f_usage_probe import chosen_lanes
from tests.integration.test_w14i_seaweed import emptied
from tests.support.w14i_transport import HOME_BUCKET, OverHttp, tenants

pytestmark = pytest.mark.integration

LANES = [lane for lane in chosen_lanes(["seaweedfs"]) if lane in UPSTREAMS]


@pytest.fixture(scope="module", params=LANES)
def two_replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Proxy]]:
    server, upstream = (request.getfixturevalue(name) for name in UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    if HOME_BUCKET not in {b["Name"] for b in upstream.list_buckets().get("Buckets", [])}:
        upstream.create_bucket(Bucket=HOME_BUCKET)
    started: list[Proxy] = []
    try:
        for n in range(2):
            started.append(
                start_proxy(
                    server,
                    upstream,
                    tmp_path_factory.mktemp(f"w15i-grants-{n}"),
                    tenants=tenants(UPSTREAM),
                    server={"bucket_cache_seconds": 30, "workers": 1},
                )
            )
        yield started[0], started[1]
    finally:
        for proxy in started:
            proxy.process.stop()


def test_a_bucket_made_private_through_one_replica_takes_no_anonymous_write_through_another(
    two_replicas: tuple[Proxy, Proxy],
) -> None:
    first, second = (OverHttp(proxy.endpoint) for proxy in two_replicas)
    emptied(first)

    def acl(value: str) -> None:
        headers = {"x-amz-acl": value}
        assert first.send("a", "PUT", "nm1", query=[("acl", "")], headers=headers).status == 200

    assert first.send("a", "PUT", "nm1", headers={"x-amz-acl": "public-read-write"}).status == 200
    assert first.send("a", "PUT", "nm1", "kept", body=b"owner's").status == 200
    # The second replica caches the bucket's public-read-write ACL for 30 s from here.
    assert second.send("anon", "PUT", "nm1", "before", body=b"anonymous").status == 200
    delete = b"<Delete><Object><Key>kept</Key></Object></Delete>"
    md5 = {"content-md5": base64.b64encode(hashlib.md5(delete).digest()).decode()}

    def writes() -> list[tuple[int, str | None]]:
        answers = [
            second.send("anon", "PUT", "nm1", "after", body=b"anonymous"),
            second.send("anon", "DELETE", "nm1", "kept"),
            second.send("anon", "POST", "nm1", query=[("delete", "")], headers=md5, body=delete),
        ]
        return [(answer.status, answer.code) for answer in answers]

    acl("public-read")  # writes no longer granted: the DeleteObjects is S3's 200 naming each key
    assert writes() == [(403, "AccessDenied"), (403, "AccessDenied"), (200, None)]
    acl("private")
    assert writes() == [(403, "AccessDenied")] * 3
    listing = first.send("a", "GET", "nm1", query=[("list-type", "2")]).body.decode()
    assert "<Key>kept</Key>" in listing and "<Key>before</Key>" in listing
    assert "<Key>after</Key>" not in listing
    acl("public-read-write")  # granted again: a new grant, unknown to the second for its cache
    assert second.send("anon", "PUT", "nm1", "again", body=b"anonymous").status == 403
    assert second.send("a", "GET", "nm1", "again").code == "NoSuchKey"
