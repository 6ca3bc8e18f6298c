"""Which CopyObjects stay server-side now that a copy gets S3's ETag (wave 17 C2).

S3 gives the copy of a multipart object (ETag ``"<hex>-N"``) the MD5 of its bytes; SeaweedFS,
Ceph RGW and MinIO keep the ``-N`` ETag on a server-side copy, so there such a copy passes
through the gateway (whose PUT upstream gets the MD5); AWS S3 and the local store
(``copies_md5_etag``) keep their server-side copy, and so does an SSE-C copy (no MD5 there on
S3 either). A source over 5 GiB is 400 InvalidRequest, as S3 answers (it was copied).
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from s3proxy.backends.bound_copy import checked_copy
from s3proxy.backends.copy_checksum import CopyChecksum
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import (
    CopyObjectInput,
    CopyObjectOutput,
    CustomerKey,
    ObjectAttributes,
    ObjectInfo,
    ReadConditions,
)

WHERE = UpstreamLocation("up", "b", "k")
MULTIPART = '"9690bf32f87afe118fc237cb0c15bef6-2"'
PLAIN = '"5d41402abc4b2a76b9719d911017c592"'


class Upstream:
    """A source whose HEAD shows ``etag`` and ``size``; ``copies_md5_etag`` as given."""

    def __init__(self, etag: str, size: int = 5, md5_copies: bool | None = None) -> None:
        self.info = ObjectInfo(size, etag, "Sat, 05 Dec 2026 15:00:00 GMT", ObjectAttributes())
        if md5_copies is not None:
            self.copies_md5_etag = md5_copies

    async def head_object(self, *_: object) -> ObjectInfo:
        return self.info


def _server_side(upstream: Upstream, request: CopyObjectInput, same: bool = True) -> bool:
    sent: list[bool] = []

    async def copy(_: CopyObjectInput, server_side: bool, __: CopyChecksum) -> CopyObjectOutput:
        sent.append(server_side)
        return CopyObjectOutput(etag=PLAIN, last_modified="2026-12-05T15:00:00.000Z")

    run = checked_copy(upstream, WHERE, "k", request, same, None, WHERE, copy)  # type: ignore[arg-type]
    asyncio.run(run)
    return sent[0]


NAMES = {"source_bucket": "b", "source_key": "s", "bucket": "b", "key": "k"}
REQUEST = CopyObjectInput(**NAMES, replace_metadata=False, attributes=ObjectAttributes())


@pytest.mark.parametrize(
    ("etag", "md5_copies", "server_side"),
    [
        (MULTIPART, None, False),  # SeaweedFS, Ceph RGW, MinIO: through the gateway
        (MULTIPART, False, False),
        (MULTIPART, True, True),  # AWS S3, the local store: they give the MD5 themselves
        (PLAIN, None, True),  # a copy of a single object keeps its MD5 anyway
        ('"abc-def"', None, True),  # not a part count
    ],
)
def test_a_multipart_source_is_copied_where_the_copy_gets_the_md5(
    etag: str, md5_copies: bool | None, server_side: bool
) -> None:
    assert _server_side(Upstream(etag, md5_copies=md5_copies), REQUEST) is server_side


def test_an_sse_c_copy_of_a_multipart_source_stays_server_side() -> None:
    key = CustomerKey("AES256", "a" * 44, "b" * 24)
    request = dataclasses.replace(REQUEST, source_conditions=ReadConditions(customer_key=key))
    assert _server_side(Upstream(MULTIPART), request) is True


def test_a_copy_between_upstreams_still_passes_through() -> None:
    assert _server_side(Upstream(PLAIN, md5_copies=True), REQUEST, same=False) is False


def test_a_source_over_5_gib_is_refused_as_s3_refuses_it() -> None:
    with pytest.raises(S3Error) as refused:
        _server_side(Upstream(MULTIPART, size=5 * 1024**3 + 1, md5_copies=True), REQUEST)
    assert refused.value.code is S3ErrorCode.InvalidRequest
    assert refused.value.message == (
        "The specified copy source is larger than the maximum allowable size for a copy "
        "source: 5368709120"
    )
    assert _server_side(Upstream(MULTIPART, size=5 * 1024**3, md5_copies=True), REQUEST)
