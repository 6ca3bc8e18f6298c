"""A write another write overtakes, or whose upstream answer is lost, is never a 200 (or a 412)
for an object it did not make (wave 18 G), on SeaweedFS behind the fault proxy.

The overtaking write is made on SeaweedFS directly, from the fault proxy's match callback, as
the gateway's own request reaches it: exactly between two of the gateway's steps, every time.

- A self-copy that changes only the storage class is sent with the object's metadata, read by a
  HEAD first (SeaweedFS refuses it otherwise). An overwrite between that HEAD and the copy got
  the old object's Content-Type and metadata on its own bytes, answered 200. The copy is now
  bound to the HEAD's ETag and read again when that fails; a source that keeps changing is 503.
- A copy with ``x-amz-copy-source-if-*`` whose answer was lost on a reused connection was sent
  again, checked on a source overwritten meanwhile, and the client got 412 for a copy made. It
  is sent once now (503), with either client, as a conditional PUT already was.
- A copy through the gateway read its source's tags after its bytes: an overwrite between
  the two gave the copy the old bytes and the new tags. The source is checked after (503).
- A copy that replaces tags, and a Complete of a tagged upload, set the tags with a
  PutObjectTagging after the write, on every upstream (Ceph RGW 16 drops them): a write of the
  key in between got them on its own object. SeaweedFS keeps the tags the copy or the Create
  gave, and is sent no PutObjectTagging now.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import HOME_BUCKET, Proxy, upstream_key
from tests.integration.test_w13g_upstream_faults import gateway_behind_faults
from tests.support.fault_proxy import Fault, FaultProxy, Request

pytestmark = pytest.mark.integration

BUCKET = "w18g-safety"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def faulty(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, FaultProxy]]:
    """(gateway on the native client, fault proxy): one worker on SeaweedFS."""
    with gateway_behind_faults(request, tmp_path_factory.mktemp("w18g"), BUCKET) as pair:
        yield pair


@pytest.fixture(scope="module")
def faulty_aiohttp(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, FaultProxy]]:
    """The same on ``client: aiohttp``."""
    workdir = tmp_path_factory.mktemp("w18g-aiohttp")
    with gateway_behind_faults(request, workdir, BUCKET, client="aiohttp") as pair:
        yield pair


def overwriter(gateway: Proxy, key: str, times: int) -> Callable[[Request], bool]:
    """A match callback that overwrites ``key`` on the upstream directly (new bytes, another
    Content-Type and metadata, no tags) as each of the first ``times`` requests it is asked
    about reaches the fault proxy, before the proxy forwards it; it never breaks one."""
    made: list[int] = []

    def overwrite(request: Request) -> bool:
        if len(made) < times:
            made.append(1)
            gateway.upstream.put_object(
                Bucket=HOME_BUCKET,
                Key=upstream_key("alice", BUCKET, key),
                Body=f"overwrite {len(made)}".encode(),
                ContentType="text/overwrite",
                Metadata={"by": f"overwrite-{len(made)}"},
            )
        return False

    return overwrite


def copy_of(key: str) -> Callable[[Request], bool]:
    def match(request: Request) -> bool:
        return (
            request.method == "PUT"
            and "x-amz-copy-source" in request.headers
            and request.path.endswith(f"/{key}")
        )

    return match


def tagging_of(key: str) -> Callable[[Request], bool]:
    def match(request: Request) -> bool:
        return (
            request.method == "PUT"
            and "tagging" in request.query
            and request.path.endswith(f"/{key}")
        )

    return match


def sent(faults: FaultProxy, match: Callable[[Request], bool], since: set[int]) -> list[Request]:
    """The requests ``match`` accepts among those the fault proxy carried, but for ``since``
    (:func:`carried` before)."""
    return [r for link in faults.links for r in link.requests if id(r) not in since and match(r)]


def carried(faults: FaultProxy) -> set[int]:
    return {id(r) for link in faults.links for r in link.requests}


def test_a_self_copy_carries_the_metadata_of_the_bytes_it_copies(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """The object is overwritten as the copy reaches the upstream, after the gateway's HEAD
    read its metadata: the copy is refused for its binding, read again and made, and the
    object has the overwrite's bytes with the overwrite's own Content-Type and metadata (never
    the old object's), in the class asked. Overwritten at every copy sent, it is 503 and the
    last overwrite stays as it was written."""
    gateway, faults = faulty
    s3 = gateway.client("alice")
    key = "selfcopy"
    s3.put_object(
        Bucket=BUCKET, Key=key, Body=b"old", ContentType="text/old", Metadata={"by": "old"}
    )
    overwrite = overwriter(gateway, key, 1)
    faults.add(Fault(lambda r: copy_of(key)(r) and overwrite(r)))
    try:
        copy = {"Bucket": BUCKET, "Key": key, "CopySource": {"Bucket": BUCKET, "Key": key}}
        s3.copy_object(**copy, StorageClass="STANDARD_IA")
    finally:
        faults.clear()
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (
        b"overwrite 1",
        "text/overwrite",
        {"by": "overwrite-1"},
    )
    assert got.get("StorageClass") == "STANDARD_IA"

    key = "selfcopy2"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"old", ContentType="text/old")
    overwrite = overwriter(gateway, key, 3)  # before each of the three copies sent
    faults.add(Fault(lambda r: copy_of(key)(r) and overwrite(r)))
    try:
        with pytest.raises(ClientError) as raised:
            copy = {"Bucket": BUCKET, "Key": key, "CopySource": {"Bucket": BUCKET, "Key": key}}
            s3.copy_object(**copy, StorageClass="STANDARD_IA")
    finally:
        faults.clear()
    error = raised.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        503,
        "ServiceUnavailable",
    )
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert (got["Body"].read(), got["ContentType"]) == (b"overwrite 3", "text/overwrite")


@pytest.mark.parametrize("client", ["native", "aiohttp"])
def test_a_conditional_copy_whose_answer_was_lost_is_sent_once(
    request: pytest.FixtureRequest, client: str
) -> None:
    """``x-amz-copy-source-if-match`` names the source's ETag; the upstream copies it, its
    answer is lost on a pooled connection, and the source is overwritten before anything else
    reaches the upstream. The copy was sent again and refused on the new source: 412 to the
    client, whose copy was made. Now one copy goes upstream, the client gets 503, and the
    target is the copy of the version named."""
    gateway, faults = request.getfixturevalue("faulty" if client == "native" else "faulty_aiohttp")
    s3 = gateway.client("alice")
    source, target = f"csource{client}", f"ctarget{client}"
    etag = s3.put_object(Bucket=BUCKET, Key=source, Body=b"version one")["ETag"]
    s3.head_object(Bucket=BUCKET, Key=source)  # a connection back in the pool
    since = carried(faults)
    faults.add(Fault(copy_of(target), where="done"))
    overwrite = overwriter(gateway, source, 1)
    faults.add(Fault(lambda r: copy_of(target)(r) and overwrite(r)))
    try:
        with pytest.raises(ClientError) as raised:
            s3.copy_object(
                Bucket=BUCKET,
                Key=target,
                CopySource={"Bucket": BUCKET, "Key": source},
                CopySourceIfMatch=etag,
            )
    finally:
        faults.clear()
    error = raised.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        503,
        "ServiceUnavailable",
    )
    assert len(sent(faults, copy_of(target), since)) == 1
    assert s3.get_object(Bucket=BUCKET, Key=target)["Body"].read() == b"version one"


def tags_of(s3: Any, key: str) -> list[dict[str, str]]:
    return list(s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"])


def test_a_copy_that_replaces_tags_never_tags_another_write(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """The tags a copy gives (``REPLACE``) were set with a PutObjectTagging after the copy: an
    overwrite made before it got them. SeaweedFS keeps the copy's own, and nothing more goes."""
    gateway, faults = faulty
    s3 = gateway.client("alice")
    s3.put_object(Bucket=BUCKET, Key="tsource", Body=b"tagged copy", Tagging="from=source")
    since = carried(faults)
    overwrite = overwriter(gateway, "ttarget", 1)
    faults.add(Fault(lambda r: tagging_of("ttarget")(r) and overwrite(r)))
    try:
        s3.copy_object(
            Bucket=BUCKET,
            Key="ttarget",
            CopySource={"Bucket": BUCKET, "Key": "tsource"},
            TaggingDirective="REPLACE",
            Tagging="from=copy",
        )
    finally:
        faults.clear()
    body = s3.get_object(Bucket=BUCKET, Key="ttarget")["Body"].read()
    assert (body, tags_of(s3, "ttarget")) == (b"tagged copy", [{"Key": "from", "Value": "copy"}])
    assert sent(faults, tagging_of("ttarget"), since) == []


def test_a_complete_of_a_tagged_upload_never_tags_another_write(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """An upload's tags (given on Create) were set with a PutObjectTagging after its
    Complete: an overwrite made before it got them. SeaweedFS kept them from the Create."""
    gateway, faults = faulty
    s3 = gateway.client("alice")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="tupload", Tagging="from=upload")
    part = s3.upload_part(
        Bucket=BUCKET, Key="tupload", UploadId=upload["UploadId"], PartNumber=1, Body=b"parts"
    )
    since = carried(faults)
    overwrite = overwriter(gateway, "tupload", 1)
    faults.add(Fault(lambda r: tagging_of("tupload")(r) and overwrite(r)))
    try:
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key="tupload",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    finally:
        faults.clear()
    body = s3.get_object(Bucket=BUCKET, Key="tupload")["Body"].read()
    assert (body, tags_of(s3, "tupload")) == (b"parts", [{"Key": "from", "Value": "upload"}])
    assert sent(faults, tagging_of("tupload"), since) == []


def test_a_copy_through_the_gateway_never_takes_another_object_s_tags(
    faulty: tuple[Proxy, FaultProxy],
) -> None:
    """A multipart source is copied through the gateway on SeaweedFS (its server-side copy
    keeps the ``-N`` ETag): its bytes read by a GET, its tags by a GetObjectTagging after. The
    source overwritten (other bytes, other tags) between the two made a copy of the old bytes
    with the overwrite's tags, answered 200. Now the source is checked to be the one read
    after its tags are: 503, nothing stored; the retry copies the overwrite with its tags."""
    gateway, faults = faulty
    s3 = gateway.client("alice")
    key, data = "tagsource", os.urandom(5 * MiB)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, Tagging="v=1")["UploadId"]
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]}
        for n, body in ((1, data), (2, b"tail"))
    ]  # fmt: skip
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    made: list[int] = []

    def overwrite(request: Request) -> bool:
        if request.method == "GET" and "tagging" in request.query and not made:
            made.append(1)
            gateway.upstream.put_object(
                Bucket=HOME_BUCKET,
                Key=upstream_key("alice", BUCKET, key),
                Body=b"overwrite",
                Tagging="v=2",
            )
        return False

    faults.add(Fault(lambda r: r.path.endswith(f"/{key}") and overwrite(r)))
    copy = {"Bucket": BUCKET, "Key": "tagcopy", "CopySource": {"Bucket": BUCKET, "Key": key}}
    try:
        with pytest.raises(ClientError) as raised:
            s3.copy_object(**copy)
    finally:
        faults.clear()
    assert made
    error = raised.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        503,
        "ServiceUnavailable",
    )
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="tagcopy")
    s3.copy_object(**copy)
    body = s3.get_object(Bucket=BUCKET, Key="tagcopy")["Body"].read()
    assert (body, tags_of(s3, "tagcopy")) == (b"overwrite", [{"Key": "v", "Value": "2"}])
