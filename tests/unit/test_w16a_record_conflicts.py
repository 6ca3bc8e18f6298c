"""The gateway's own conditional writes take AWS S3's 409 ConditionalRequestConflict as they take
a 412 (wave 16, A).

AWS S3 answers a conditional write (``If-None-Match: *``, ``If-Match``) or a conditional delete
that meets a concurrent write or delete of its key 409 ConditionalRequestConflict ("retry on
409"). The gateway's internal conditional writes (a bucket's marker, its settings record, a
quota usage record, the key-encoding marker, the Complete-conditions probe, a quota tenant's
delete bound to its HEAD) treated only 412 as "another writer's": a 409 went to the client as
the answer to a CreateBucket, a PutBucketTagging, a DeleteObject, which S3 never answers so.
A real local store plays the upstream; a wrapper answers 409 where S3 would, once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from s3proxy.backends import complete_conditions
from s3proxy.backends.bucket_settings import with_tags
from s3proxy.backends.key_encoding import MARKER, KeyEncodings
from s3proxy.backends.local import LocalStore
from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.quota_writes import delete_counted
from s3proxy.backends.usage_folding import Place
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation
from s3proxy.model import ObjectAttributes, PutObjectInput, ReadConditions
from tests.unit.local_helpers import BUCKET
from tests.unit.test_key_encoding import HOME, TENANT, put

CONFLICT = S3ErrorCode.ConditionalRequestConflict


class Racing:
    """The local store as AWS S3 answers under a race: the first conditional write of a key
    containing ``part`` once ``armed`` answers 409, after ``lands`` lets the other writer's
    land (or not)."""

    def __init__(self, store: LocalStore, part: str, lands: bool) -> None:
        self._store, self._part, self._lands = store, part, lands
        self.conflicts = 0
        self.armed = True

    def _conflicts(self) -> bool:
        return self.armed and not self.conflicts

    async def put_object(self, request: PutObjectInput) -> Any:
        conditional = request.conditions.if_none_match or request.conditions.if_match
        if conditional and self._part in request.key and self._conflicts():
            self.conflicts += 1
            if self._lands:  # the racing writer's record is there now
                await self._store.put_object(request)
            raise S3Error(CONFLICT)
        return await self._store.put_object(request)

    async def complete_multipart_upload(self, request: Any) -> Any:
        if request.conditions.if_none_match and self._conflicts():
            self.conflicts += 1
            raise S3Error(CONFLICT)
        return await self._store.complete_multipart_upload(request)

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None:
        if self._conflicts():
            self.conflicts += 1
            raise S3Error(CONFLICT)
        await self._store.delete_object(bucket, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def run(tmp_path: Path, part: str, lands: bool, scenario: Any) -> Racing:
    async def main() -> Racing:
        store = LocalStore("up", tmp_path / "store")
        try:
            racing = Racing(store, part, lands)
            await scenario(racing)
            return racing
        finally:
            await store.close()

    racing = asyncio.run(main())
    assert racing.conflicts == 1  # the 409 was met
    return racing


def storage(backend: Any) -> MappedStorage:
    backends = {"up": backend}
    return MappedStorage(
        TENANT, backends, 1, encodings=KeyEncodings(backends, None, {"up": "flat"})
    )


def test_a_create_bucket_whose_marker_meets_another_creates_409_is_already_owned(
    tmp_path: Path,
) -> None:
    """Before: 409 ConditionalRequestConflict, an answer S3 never gives a CreateBucket."""

    async def scenario(racing: Racing) -> None:
        mapped = storage(racing)
        await mapped.buckets.create("fresh")  # the home's first bucket: its marker decided
        with pytest.raises(S3Error) as raised:
            await mapped.buckets.create("bkt")
        assert raised.value.code is S3ErrorCode.BucketAlreadyOwnedByYou
        assert await mapped.buckets.exists("bkt")  # the other create's

    run(tmp_path, ".buckets/bkt", True, scenario)


def test_a_settings_write_that_meets_409_reads_again_and_writes(tmp_path: Path) -> None:
    """Before: PutBucketTagging answered 409 about a condition the client never sent."""

    async def scenario(racing: Racing) -> None:
        mapped = storage(racing)
        racing.armed = False
        await mapped.buckets.create("bkt")
        racing.armed = True
        settings = mapped.buckets.settings
        await settings.update("bkt", with_tags((("k", "v"),)))
        assert (await settings.stored("bkt")).tags == (("k", "v"),)

    run(tmp_path, "bkt", False, scenario)


def test_a_key_encoding_marker_that_meets_409_is_the_other_writers(tmp_path: Path) -> None:
    """Before: the first request on a new home failed 409."""

    async def scenario(racing: Racing) -> None:
        mapped = storage(racing)
        await mapped.buckets.create("bkt")
        await put(mapped, "bkt", "k")
        info = await racing.head_object(BUCKET, HOME.prefix + MARKER, ReadConditions())
        assert info.attributes.metadata  # one marker, recorded once

    run(tmp_path, MARKER, True, scenario)


def test_a_usage_record_written_over_409_is_not_written(tmp_path: Path) -> None:
    """Before: the 409 failed the fold (and the quota write that waited on it)."""

    async def scenario(racing: Racing) -> None:
        place = Place(racing, BUCKET, "home/.usage/")  # type: ignore[arg-type]
        assert await place.put_if("p1", b"{}", None) is None
        assert await place.put_if("p1", b"{}", None) is not None  # the next try writes it

    run(tmp_path, ".usage/p1", False, scenario)


def test_the_complete_conditions_probe_takes_409_for_a_condition_checked(
    tmp_path: Path,
) -> None:
    """Before: the 409 failed the probe, and so the client's conditional Complete."""

    async def scenario(racing: Racing) -> None:
        assert await complete_conditions._probe(racing, BUCKET, "home/")  # type: ignore[arg-type]

    run(tmp_path, "", False, scenario)


def test_a_bound_delete_that_meets_409_reads_again_and_frees_once(tmp_path: Path) -> None:
    """Before: DeleteObject answered 409 (S3 answers it to a conditional delete racing a write
    or delete of the key), and nothing was counted."""

    async def scenario(racing: Racing) -> None:
        await racing._store.put_object(
            PutObjectInput(BUCKET, "obj", _body(b"12345"), 5, ObjectAttributes())
        )
        freed = await delete_counted(racing, UpstreamLocation("up", BUCKET, "obj"))  # type: ignore[arg-type]
        assert freed == 5

    run(tmp_path, "", False, scenario)


async def _body(data: bytes) -> Any:
    yield data
