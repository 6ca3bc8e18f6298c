"""Wave 16 J: a read without its SSE-C key of an SSE-C object, as a real client sees it.

Probed with rclone 1.75, aws-cli 1.46 and boto3 1.44.18 on the three lanes: ``rclone cat`` (or
``aws s3 cp``) of an SSE-C object without ``--s3-sse-customer-key`` printed ``InvalidArgument:
Invalid Argument`` on SeaweedFS and Ceph RGW, the upstream's own 400 passed on, where S3
answers 400 InvalidRequest "The object was stored using a form of Server Side Encryption. The
correct parameters must be provided to retrieve the object." The gateway had that answer
(s3proxy.sse.check_read) but the upstream refused first; now its 400 to a keyless read is
S3's (s3proxy.sse.keyless_read). A copy of such a source without its key (CopyObject,
UploadPartCopy: the upstream's InvalidArgument, or the gateway's "refused this request as
invalid") and GetObjectAttributes read the source the same way and answer the same. The local
store stores no SSE-C object (its refusals: tests/integration/test_sse.py), so this runs on the
S3 lanes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from conformance.sessions.base import ClientUnavailable
from conformance.sessions.clients import client
from tests.integration.conftest import Proxy, start_proxy
from tests.integration.test_w14h2_sse_reads import refusal

BUCKET = "docs"
ENCRYPTED = (
    "The object was stored using a form of Server Side Encryption. The correct parameters must "
    "be provided to retrieve the object."
)
MODES = {"seaweedfs": ["SSE-C", "AES256"], "ceph": ["SSE-C"]}


@pytest.fixture(scope="module")
def sse_proxy(
    proxy: Proxy, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A proxy whose upstream lists SSE-C, serving plain HTTP as behind a TLS balancer."""
    if proxy.server is None:
        pytest.skip("the local store stores no SSE-C object (tests/integration/test_sse.py)")
    workdir = tmp_path_factory.mktemp(f"w16j-sse-{backend}")
    running = start_proxy(
        proxy.server, proxy.upstream, workdir, {"sse": MODES[backend]},
        server={"sse_c_over_http": True},
    )  # fmt: skip
    try:
        yield running
    finally:
        running.process.stop()


def test_a_read_without_the_key_is_s3s_invalid_request(sse_proxy: Proxy, backend: str) -> None:
    """GET, ranged GET, HEAD, GetObjectAttributes, CopyObject and UploadPartCopy without the
    key: S3's 400 InvalidRequest (a HEAD has no body, so its status alone), nothing copied;
    with the key the object reads; rclone reports S3's error."""
    s3 = sse_proxy.client("alice")
    key, name = os.urandom(32), f"w16j/{backend}/encrypted"
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    s3.put_object(Bucket=BUCKET, Key=name, Body=b"secret bytes", **ssec)

    assert refusal(s3.get_object, Bucket=BUCKET, Key=name) == (400, "InvalidRequest", ENCRYPTED)
    ranged = refusal(s3.get_object, Bucket=BUCKET, Key=name, Range="bytes=0-3")
    assert ranged == (400, "InvalidRequest", ENCRYPTED)
    assert refusal(s3.head_object, Bucket=BUCKET, Key=name)[0] == 400
    attributes = refusal(
        s3.get_object_attributes, Bucket=BUCKET, Key=name, ObjectAttributes=["ObjectSize"]
    )
    assert attributes == (400, "InvalidRequest", ENCRYPTED)
    source = {"Bucket": BUCKET, "Key": name}
    copied = refusal(s3.copy_object, Bucket=BUCKET, Key=f"{name}-copy", CopySource=source)
    assert copied == (400, "InvalidRequest", ENCRYPTED)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=f"{name}-part")["UploadId"]
    try:
        part = refusal(
            s3.upload_part_copy, Bucket=BUCKET, Key=f"{name}-part", UploadId=upload,
            PartNumber=1, CopySource=source,
        )  # fmt: skip
        assert part == (400, "InvalidRequest", ENCRYPTED)
    finally:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=f"{name}-part", UploadId=upload)
    assert refusal(s3.head_object, Bucket=BUCKET, Key=f"{name}-copy")[0] == 404
    assert s3.get_object(Bucket=BUCKET, Key=name, **ssec)["Body"].read() == b"secret bytes"

    try:
        rclone = client("rclone-pypi").locate()
    except ClientUnavailable as missing:
        pytest.skip(str(missing))
    access_key, secret_key = sse_proxy.keys("alice")
    remote = [
        "--s3-provider=Other", f"--s3-endpoint={sse_proxy.endpoint}", "--s3-region=us-east-1",
        f"--s3-access-key-id={access_key}", f"--s3-secret-access-key={secret_key}",
        "--s3-force-path-style=true", "--retries=1", "--low-level-retries=1",
    ]  # fmt: skip
    env = {**os.environ, "RCLONE_CONFIG": os.devnull}
    cat = subprocess.run(
        [rclone, "cat", f":s3:{BUCKET}/{name}", *remote],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert cat.returncode != 0 and not cat.stdout, cat
    assert "InvalidRequest" in cat.stderr and "Server Side Encryption" in cat.stderr, cat.stderr
