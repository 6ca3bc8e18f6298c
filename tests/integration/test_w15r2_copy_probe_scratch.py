"""Wave 15 R2: the one-time probe of an upstream's part-copy ETags goes into a scratch upload
under the tenant's home (``home.prefix + ".copy-probe"``), never into the client's part.

Where the ``Server`` header names no known server (here SeaweedFS behind a proxy that says
``nginx``), the first UploadPartCopy learns whether the upstream's part copies answer the MD5
of their bytes by copying the source's first byte into a part. That part was the client's own,
trusting the copy that follows to replace it; a copy that then failed (its source deleted in
between) left the client's part holding one byte of another object, where S3 leaves a part as
it was. The probe now creates its own upload, copies into it and aborts it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Proxy
from tests.integration.relayed import relayed_proxy, upstream_lanes
from tests.support.relay import Exchange, Relay

pytestmark = pytest.mark.integration

BUCKET = "w15r2-probe"


def _nginx(exchange: Exchange) -> bytes | None:
    exchange.set_header("Server", "nginx/1.27.3")
    return None


@pytest.fixture(scope="module", params=[lane for lane in upstream_lanes() if lane == "seaweedfs"])
def relayed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Relay, str]]:
    with relayed_proxy(request, tmp_path_factory, "w15r2", BUCKET, _nginx) as running:
        yield running


def test_the_part_copy_probe_never_touches_the_client_s_upload(
    relayed: tuple[Proxy, Relay, str],
) -> None:
    proxy, relay, prefix = relayed
    client = proxy.client("alice")
    source = os.urandom(1000)
    client.put_object(Bucket=BUCKET, Key="src", Body=source)
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="dst")["UploadId"]
    start = len(relay.seen)
    etag = client.upload_part_copy(
        Bucket=BUCKET, Key="dst", UploadId=upload, PartNumber=1,
        CopySource={"Bucket": BUCKET, "Key": "src"}, CopySourceRange="bytes=10-509",
    )["CopyPartResult"]["ETag"]  # fmt: skip
    assert etag == f'"{hashlib.md5(source[10:510]).hexdigest()}"'
    sent = relay.seen[start:]
    probe = [e for e in sent if e.path.endswith(f"/{prefix}.copy-probe")]
    assert [(e.method, e.status) for e in probe] == [("POST", 200), ("PUT", 200), ("DELETE", 204)]
    one_byte = [e for e in sent if ("x-amz-copy-source-range", "bytes=0-0") in e.headers]
    assert one_byte == probe[1:2]  # the byte went into the scratch upload only
    parts = client.list_parts(Bucket=BUCKET, Key="dst", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etag, 500)]
    client.abort_multipart_upload(Bucket=BUCKET, Key="dst", UploadId=upload)
