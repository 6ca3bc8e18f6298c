"""A Complete retried after its tagging step failed (s3proxy.backends.mapped_multipart): the
tags recorded at Create survive a whole-bucket ListMultipartUploads sweep in between
(s3proxy.backends.upload_listing.sweep_stale keeps a tags record a Complete wrote within its
grace period), and a retry that finds the record gone answers 200 only for an object that has
tags. A tenant without a home cannot start an encrypted upload on an S3 upstream: its
ListMultipartUploads could not name the encryption in the UploadId."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from s3proxy.backends.mapped_multipart import MappedUploads
from s3proxy.backends.upload_listing import TAGS_GRACE, sweep_stale
from s3proxy.backends.upload_records import UploadMarks, upload_digest
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import (
    CompleteMultipartInput,
    CreateMultipartInput,
    CustomerKey,
    Encryption,
    ListEntry,
    ListPage,
    ObjectAttributes,
    Tags,
    UploadInfo,
)
from tests.unit import test_mapped_complete
from tests.unit.test_upload_marks import (
    HOME,
    TAGS,
    BodyUpstream,
    TaggingStorage,
    TaggingUpstream,
)
from tests.unit.test_upload_records import records

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC).timestamp()
RECORD = f"alice/.uploads/b/{upload_digest('k', 'u1')}.tags"


class DatedUpstream(BodyUpstream):
    """The tenant's home, dating each record by the (settable) clock of its last write."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = NOW
        self.written: dict[str, float] = {}

    async def put_object(self, request: Any) -> None:
        await super().put_object(request)
        self.written[request.key] = self.clock

    async def list_objects(self, *args: Any, **kwargs: Any) -> ListPage:
        page = await super().list_objects(*args, **kwargs)
        entries = [ListEntry(entry.key, "", 0, self.date(entry.key)) for entry in page.entries]
        return ListPage(entries, page.prefixes, page.next_token)

    def date(self, key: str) -> str:
        moment = datetime.fromtimestamp(self.written[key], UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # as S3 lists it


class TagReadingStorage(TaggingStorage):
    async def get_object_tagging(self, bucket: str, key: str) -> Tags:
        assert isinstance(self.upstream, TaggingUpstream)
        return self.upstream.tags.get(key, ())


def setup() -> tuple[TaggingUpstream, DatedUpstream, MappedUploads]:
    upstream, keeper = TaggingUpstream(), DatedUpstream()
    storage = TagReadingStorage(upstream, HOME)
    uploads = MappedUploads(storage, {"up": upstream, "home": keeper})  # type: ignore[arg-type,dict-item]
    return upstream, keeper, uploads


async def sweep(keeper: DatedUpstream, now: float) -> int:
    """A whole-bucket ListMultipartUploads that no longer sees the completed upload; how many
    second listings it paid."""
    relisted = 0

    async def relist() -> list[UploadInfo]:
        nonlocal relisted
        relisted += 1
        return []

    kept = records(keeper)
    await sweep_stale(kept, "b", [], await kept.read("b"), relist, now)
    return relisted


FINISH = CompleteMultipartInput("b", "k", "u1", test_mapped_complete.PARTS)


def test_a_sweep_between_a_failed_tagging_and_the_retry_keeps_the_tags() -> None:
    upstream, keeper, uploads = setup()

    async def scenario() -> None:
        keeper.clock = NOW - 3 * 86400  # the upload was created days before its Complete
        create = CreateMultipartInput("b", "k", ObjectAttributes(), tags=TAGS)
        _, _, marks = await uploads.create(create)
        keeper.clock = NOW
        upstream.fail_tagging = True  # the object completes, its tags fail: so does Complete
        with pytest.raises(S3Error):
            await uploads.complete(FINISH, None, marks)
        await sweep(keeper, NOW + 60)  # the upload is gone upstream, its records are not
        upstream.fail_tagging = False
        await uploads.complete(FINISH, None, marks)  # 200: the object has its tags
        assert upstream.tags == {"k": TAGS} and upstream.completes == 1
        assert keeper.keys == set()

    asyncio.run(scenario())


def test_tags_records_are_swept_once_their_grace_period_is_over() -> None:
    _, keeper, uploads = setup()

    async def scenario() -> None:
        create = CreateMultipartInput("b", "k", ObjectAttributes(), tags=TAGS)
        await uploads.create(create)  # then aborted or expired upstream, out of the proxy
        assert await sweep(keeper, NOW + TAGS_GRACE - 60) == 0  # kept, at no extra request
        assert keeper.keys == {RECORD}
        assert await sweep(keeper, NOW + TAGS_GRACE + 60) == 1
        assert keeper.keys == set()

    asyncio.run(scenario())


def test_a_retry_that_finds_the_record_gone_answers_200_only_for_a_tagged_object() -> None:
    upstream, keeper, uploads = setup()

    async def scenario() -> None:
        create = CreateMultipartInput("b", "k", ObjectAttributes(), tags=TAGS)
        _, _, marks = await uploads.create(create)
        upstream.fail_tagging = True
        with pytest.raises(S3Error):
            await uploads.complete(FINISH, None, marks)
        upstream.fail_tagging = False
        keeper.keys.clear()  # swept after the grace period: the tags are no longer known
        with pytest.raises(S3Error) as caught:
            await uploads.complete(FINISH, None, marks)
        assert caught.value.code is S3ErrorCode.InternalError and "k" not in upstream.tags
        upstream.tags["k"] = TAGS  # a Complete that set them and removed the record: its retry
        result = await uploads.complete(FINISH, None, marks)
        assert result.etag == upstream.objects["home/k"] and upstream.completes == 1

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "encryption",
    [
        Encryption(algorithm="AES256"),
        Encryption(customer_key=CustomerKey(algorithm="AES256", key="k", key_md5="m")),
    ],
)
def test_an_encrypted_upload_needs_a_home_on_an_s3_upstream(encryption: Encryption) -> None:
    """Without a home there is no mark, so ListMultipartUploads would issue an UploadId
    without the encryption: its parts would be taken without the SSE-C key (stored in the
    clear by SeaweedFS 4.48) and answered without SSE-S3. Refused before anything starts."""
    upstream = TaggingUpstream()
    uploads = MappedUploads(TaggingStorage(upstream, None), {"up": upstream})  # type: ignore[arg-type,dict-item]
    create = CreateMultipartInput("b", "k", ObjectAttributes(), encryption=encryption)
    with pytest.raises(S3Error) as caught:
        asyncio.run(uploads.create(create))
    assert caught.value.code is S3ErrorCode.NotImplemented and upstream.created == 0
    assert asyncio.run(uploads.create(CreateMultipartInput("b", "k", ObjectAttributes()))) == (
        "u1",
        None,
        UploadMarks(),
    )
