"""Wave 15 D: an upstream behind a proxy that rewrites its ``Server`` header (nginx's own, as
``proxy_pass`` without ``proxy_pass_header Server`` does) is served as it is served directly.

The gateway used to learn from ``Server: SeaweedFS …`` that an Abort of a gone upload is
answered 204 there (S3: 404 NoSuchUpload). Behind such a proxy it took SeaweedFS for a server
that reports gone uploads, and the Abort of a completed upload was 204 to the client, which then
takes its object for gone. It now learns it from the upstream's own answers.

The other way round, ``Server: AmazonS3`` (or an endpoint under ``amazonaws.com``) says the
upstream is S3 itself: there the gateway stores the client's metadata as sent, so that nothing
of its own counts toward S3's 2 KB of user metadata.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator

import pytest

from tests.integration.conftest import Proxy
from tests.integration.relayed import relayed_proxy, upstream_lanes
from tests.support.relay import Exchange, Relay
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "w15d-rewritten"


def _server(name: str) -> Callable[[Exchange], bytes | None]:
    """A relay hook that gives every answer ``Server: name``, as a proxy in front may."""

    def rewrite(exchange: Exchange) -> bytes | None:
        exchange.set_header("Server", name)
        return None

    return rewrite


SEAWEEDFS = [lane for lane in upstream_lanes() if lane == "seaweedfs"]
"""The lane these run on: SeaweedFS is the server known by its ``Server`` header. (Ceph RGW 16,
which sends none, learns the same way on its own lane, in every Abort and part copy there.)"""


@pytest.fixture(scope="module", params=SEAWEEDFS)
def rewritten(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A one-worker proxy whose upstream answers through a relay that says ``Server: nginx``."""
    nginx = _server("nginx/1.27.3")
    with relayed_proxy(request, tmp_path_factory, "w15d", BUCKET, nginx) as (running, _, _):
        yield running


def _abort(proxy: Proxy, key: str, upload: str) -> tuple[int, str | None]:
    url = object_url(proxy.endpoint, BUCKET, key, f"uploadId={upload}")
    response = signed("DELETE", url, *proxy.keys("alice"))
    return response.status, response.error_code


def test_an_abort_of_a_completed_upload_is_no_such_upload_behind_a_rewriting_proxy(
    rewritten: Proxy,
) -> None:
    client = rewritten.client("alice")
    first = client.create_multipart_upload(Bucket=BUCKET, Key="open")["UploadId"]
    assert _abort(rewritten, "open", first) == (204, None)  # the first Abort: learns
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="done")["UploadId"]
    body = os.urandom(1000)
    etag = client.upload_part(Bucket=BUCKET, Key="done", UploadId=upload, PartNumber=1, Body=body)[
        "ETag"
    ]
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key="done",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert _abort(rewritten, "done", upload) == (404, "NoSuchUpload")
    assert client.get_object(Bucket=BUCKET, Key="done")["Body"].read() == body
    again = client.create_multipart_upload(Bucket=BUCKET, Key="again")["UploadId"]
    assert _abort(rewritten, "again", again) == (204, None)


@pytest.fixture(scope="module", params=SEAWEEDFS)
def as_aws(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Relay]]:
    """A proxy whose upstream (SeaweedFS: one lane proves the wiring) says ``Server: AmazonS3``
    from its first answer on."""
    aws = _server("AmazonS3")
    with relayed_proxy(request, tmp_path_factory, "w15d-aws", BUCKET, aws) as (running, relay, _):
        yield running, relay


def test_an_aws_upstream_gets_the_client_s_metadata_as_sent(as_aws: tuple[Proxy, Relay]) -> None:
    """Nothing of the gateway's own counts toward AWS's 2 KB of user metadata: an empty value
    goes empty (not as a 12-byte encoded word), a name with ``_`` unpacked, an empty content
    header as it is; on PutObject, CopyObject (REPLACE) and CreateMultipartUpload alike."""
    proxy, relay = as_aws
    client = proxy.client("alice")
    metadata = {"empty": "", "a_b": "x" * 1900}
    relay.seen.clear()
    client.put_object(Bucket=BUCKET, Key="m", Body=b"x", Metadata=metadata)
    client.copy_object(
        Bucket=BUCKET, Key="m2", CopySource={"Bucket": BUCKET, "Key": "m"},
        Metadata=metadata, MetadataDirective="REPLACE",
    )  # fmt: skip
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="m3", Metadata=metadata)
    client.abort_multipart_upload(Bucket=BUCKET, Key="m3", UploadId=upload["UploadId"])
    writes = [x for x in relay.seen if x.method in ("PUT", "POST") and "/m" in x.path]
    assert len(writes) == 3
    for write in writes:
        sent = {k.lower(): v for k, v in write.headers if k.lower().startswith("x-amz-meta-")}
        assert sent == {"x-amz-meta-empty": "", "x-amz-meta-a_b": "x" * 1900}


def test_part_copies_answer_the_md5_of_their_bytes_behind_a_rewriting_proxy(
    rewritten: Proxy,
) -> None:
    """SeaweedFS's server-side part copies answer ETags of its own (the source's whatever the
    range, or ``…-2``); known by its ``Server``, their bytes pass through the gateway instead.
    Behind nginx it was taken for a server whose copies keep S3's ETag: parts answered those
    ETags, and the object's ETag was not S3's. Now a copy of the source's first byte shows it."""
    client = rewritten.client("alice")
    body = os.urandom(6 * 1024 * 1024)
    client.put_object(Bucket=BUCKET, Key="copy-src", Body=body)
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="copy-dst")["UploadId"]
    source = {"Bucket": BUCKET, "Key": "copy-src"}
    copies = [
        client.upload_part_copy(
            Bucket=BUCKET, Key="copy-dst", UploadId=upload, PartNumber=1, CopySource=source
        ),
        client.upload_part_copy(
            Bucket=BUCKET, Key="copy-dst", UploadId=upload, PartNumber=2, CopySource=source,
            CopySourceRange="bytes=10-109",
        ),
    ]  # fmt: skip
    md5s = [hashlib.md5(body).hexdigest(), hashlib.md5(body[10:110]).hexdigest()]
    assert [copy["CopyPartResult"]["ETag"] for copy in copies] == [f'"{m}"' for m in md5s]
    parts = [{"PartNumber": n, "ETag": f'"{m}"'} for n, m in enumerate(md5s, start=1)]
    done = client.complete_multipart_upload(
        Bucket=BUCKET, Key="copy-dst", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    whole = hashlib.md5(b"".join(bytes.fromhex(m) for m in md5s)).hexdigest()
    assert done["ETag"] == f'"{whole}-2"'
    got = client.get_object(Bucket=BUCKET, Key="copy-dst")["Body"].read()
    assert got == body + body[10:110]
