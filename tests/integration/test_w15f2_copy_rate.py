"""Copies charged to the tenant's byte rate (wave 15, F2; s3proxy.copy_charge), on every lane.

A CopyObject (server-side on an S3 upstream, a new row on the local store) and a ranged
UploadPartCopy carry no body; before wave 15 they cost their tenant nothing, so under 2 MB/s a
tenant copied 6 x 16 MiB in 2 s and its next request did not wait. Here each puts its tenant in
debt by the bytes it copied: the tenant's next request is refused with the Retry-After that
debt says (counted, never timed), while the other tenant's limit is untouched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, create_upstream_buckets, lanes, start_proxy

pytestmark = pytest.mark.integration

SIZE = 1_000_000
RATE = 100_000
"""A 1 MB copy under 100 kB/s: 9 s of debt past the one-second burst, 3 s (10 x max_wait)
being the most a request waits for it."""


@pytest.fixture(scope="module", params=lanes())
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, str]]:
    """A proxy whose tenants move 100 kB/s (applied by a reload once the sources are written)."""
    fixtures = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}
    server: Any = None
    upstream: Any = None
    if request.param in fixtures:
        server, upstream = (request.getfixturevalue(f) for f in fixtures[request.param])
        create_upstream_buckets(upstream)
    running = start_proxy(
        server,
        upstream,
        Path(tmp_path_factory.mktemp(f"w15f2-{request.param}")),
        server={"limits": {"max_wait": 0.3}},
    )
    tag = os.urandom(4).hex()
    try:
        running.client("alice").put_object(Bucket="docs", Key=f"f2/{tag}", Body=b"a" * SIZE)
        running.client("bob").put_object(Bucket="shared", Key=f"f2/{tag}", Body=b"b" * SIZE)
        settings = yaml.safe_load(running.config_path.read_text())
        for tenant in ("alice", "bob"):
            settings["tenants"][tenant]["limits"] = {"bytes_per_second": RATE}
        running.config_path.write_text(yaml.safe_dump(settings))
        running.process.reload_and_wait("configuration reloaded")
        yield running, tag
    finally:
        running.process.stop()


def refused_for(call: Any) -> int:
    """The Retry-After of the 503 SlowDown ``call`` must be answered."""
    with pytest.raises(ClientError) as caught:
        call()
    metadata = caught.value.response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 503, "the copy was not charged"
    return int(metadata["HTTPHeaders"]["retry-after"])


def test_copies_put_their_tenant_in_debt_by_the_bytes_copied(limited: tuple[Proxy, str]) -> None:
    proxy, tag = limited
    alice, bob = proxy.client("alice"), proxy.client("bob")
    source = {"Bucket": "docs", "Key": f"f2/{tag}"}
    alice.copy_object(Bucket="docs", Key=f"f2/{tag}-copy", CopySource=source)
    # 1 MB charged against a 100 kB burst: 9 s of debt (and its answer's bytes), less the
    # copy's own time; a copy was charged nothing before (HEAD 200)
    assert 7 <= refused_for(lambda: alice.head_object(**source)) <= 10
    created = bob.create_multipart_upload(Bucket="shared", Key=f"f2/{tag}-parts")
    upload = {"Bucket": "shared", "Key": f"f2/{tag}-parts", "UploadId": created["UploadId"]}
    try:
        bob.upload_part_copy(
            **upload,
            PartNumber=1,
            CopySource={"Bucket": "shared", "Key": f"f2/{tag}"},
            CopySourceRange=f"bytes=0-{SIZE - 1}",
        )
        assert 7 <= refused_for(lambda: bob.head_object(Bucket="shared", Key=f"f2/{tag}")) <= 10
    finally:
        bob.abort_multipart_upload(**upload)  # not held back by byte debt (limits.SETTLING)
