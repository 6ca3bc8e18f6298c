"""The pure halves of tests/integration/test_w14b_upstream_faults.py (wave 14 B), and the
fan-outs the lanes cannot break on cue: an object answer needs an ETag and a date, the abort
mode and the upstream's kind are learnt from S3's own answers, a conditional write's body error
stays the client's, and a read fan-out whose one request fails cancels the others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from s3proxy.backends import bucket_leftovers, upload_gone
from s3proxy.backends.aiohttp_client import SentOnce, _sent_once
from s3proxy.backends.bucket_removal import remove_bucket
from s3proxy.backends.upload_gone import ABORTS_GONE_UPLOADS, learn_abort_mode
from s3proxy.backends.upstream_results import object_answer
from s3proxy.backends.usage_figures import at_most
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ListPage
from tests.unit.test_bucket_removal import ROOT, Storage, Upstream
from tests.unit.test_s3_multipart import upstream

DATE = "Sun, 29 Nov 2026 00:00:00 GMT"
WHOLE = {"Content-Length": "6", "ETag": '"e"', "Last-Modified": DATE}


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "GET"


def _without(name: str) -> dict[str, str]:
    return {k: v for k, v in WHOLE.items() if k != name}


UNREADABLE = {
    "no-etag": _without("ETag"),
    "empty-etag": {**WHOLE, "ETag": '""'},
    "no-date": _without("Last-Modified"),
    "empty-date": {**WHOLE, "Last-Modified": ""},
    "not-a-date": {**WHOLE, "Last-Modified": "yesterday"},
}


@pytest.mark.parametrize("case", UNREADABLE)
@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_an_object_answer_without_its_etag_or_date_is_unreadable(case: str, method: str) -> None:
    with pytest.raises(S3Error) as raised:
        object_answer(_Answer(200, UNREADABLE[case], method))  # type: ignore[arg-type]
    assert raised.value.code is S3ErrorCode.InternalError


DATES = [DATE, "Sunday, 29-Nov-26 00:00:00 GMT", "Sun Nov 29 00:00:00 2026", "2026-11-29T00:00:00Z"]


@pytest.mark.parametrize("modified", DATES)
def test_an_object_answer_with_any_http_date_and_an_unquoted_etag_reads(modified: str) -> None:
    headers = {**WHOLE, "ETag": "e", "Last-Modified": modified}  # Ceph leaves quotes out
    assert object_answer(_Answer(206, headers)) == 6  # type: ignore[arg-type]


UPSTREAM = ("up", "http://127.0.0.1:1")


@pytest.mark.parametrize(
    ("status", "error", "learnt"),
    [  # the answers to an Abort of an upload known to be gone (wave 15 D: not the Server)
        (204, None, True),  # SeaweedFS 4.48, whatever its Server header says
        (404, S3ErrorCode.NoSuchUpload, False),  # S3, Ceph RGW
        (404, S3ErrorCode.InternalError, None),  # a page in front: code-less 404
        (400, S3ErrorCode.InvalidRequest, None),
        (403, S3ErrorCode.InternalError, None),
        (200, None, None),  # S3 answers an Abort 204
    ],
)
def test_the_abort_mode_is_learnt_from_s3_answers_only(
    status: int, error: S3ErrorCode | None, learnt: bool | None
) -> None:
    ABORTS_GONE_UPLOADS.pop(UPSTREAM, None)
    try:
        learn_abort_mode(UPSTREAM, status, S3Error(error) if error else None)
        assert ABORTS_GONE_UPLOADS.get(UPSTREAM) is learnt
    finally:
        ABORTS_GONE_UPLOADS.pop(UPSTREAM, None)
    assert upload_gone.ABORTS_GONE_UPLOADS is ABORTS_GONE_UPLOADS


def test_a_conditional_write_whose_body_failed_keeps_the_body_s_error() -> None:
    """The aiohttp middleware that keeps a conditional write from being sent again turns a
    connection failure into :class:`SentOnce` (503 to the client), but a failure the client's
    own body caused (its checksum: an S3Error as the cause) stays that error's."""
    body_error = S3Error(S3ErrorCode.BadDigest)

    async def handler(request: Any) -> Any:
        try:
            raise body_error
        except S3Error as exc:
            raise aiohttp.ClientOSError("body failed") from exc

    async def disconnected(request: Any) -> Any:
        raise aiohttp.ServerDisconnectedError()

    with pytest.raises(SentOnce) as raised:
        asyncio.run(_sent_once(None, handler))  # type: ignore[arg-type]
    assert raised.value.__cause__ is body_error
    with pytest.raises(SentOnce) as raised:
        asyncio.run(_sent_once(None, disconnected))  # type: ignore[arg-type]
    assert isinstance(raised.value.__cause__, aiohttp.ServerDisconnectedError)
    assert not isinstance(raised.value, (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError))


class _Hanging:
    """A read that never ends unless cancelled (recorded)."""

    def __init__(self) -> None:
        self.cancelled = False

    async def __call__(self, *args: Any) -> Any:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def _fails(*args: Any) -> Any:
    await asyncio.sleep(0)
    raise S3Error(S3ErrorCode.ServiceUnavailable)


def test_at_most_cancels_the_other_reads_when_one_fails() -> None:
    """Checked as the call raises, inside its loop (``asyncio.run`` cancels what is left
    only when it ends)."""
    hanging = [_Hanging() for _ in range(6)]
    started: list[int] = []

    async def read(index: int) -> None:
        started.append(index)
        await (_fails() if index == 1 else hanging[index]())

    async def run() -> list[bool]:
        with pytest.raises(S3Error):
            await at_most(3, read, range(6))
        return [hanging[index].cancelled for index in started if index != 1]

    assert asyncio.run(run()) == [True] * (len(started) - 1)
    assert len(started) < 6


class _HangingListing(Upstream):
    """Its object listing never ends; its upload question fails."""

    def __init__(self) -> None:
        super().__init__()
        self.listing = _Hanging()

    async def list_objects(self, *args: Any, **kwargs: Any) -> ListPage:
        return await self.listing()  # type: ignore[no-any-return]

    async def has_uploads(self, bucket: str, prefix: str) -> bool:
        return await _fails()  # type: ignore[no-any-return]


async def _cancelled_when_raised(call: Awaitable[object], upstream: _HangingListing) -> bool:
    with pytest.raises(S3Error) as raised:
        await asyncio.wait_for(call, 5)
    assert raised.value.code is S3ErrorCode.ServiceUnavailable
    return upstream.listing.cancelled


def test_delete_bucket_cancels_its_listing_when_the_upload_question_fails() -> None:
    upstream = _HangingListing()
    removal = remove_bucket(Storage(), {"up": upstream}, "b")  # type: ignore[arg-type,dict-item]
    assert asyncio.run(_cancelled_when_raised(removal, upstream))


def test_a_tombstone_clear_cancels_its_listing_when_the_upload_question_fails() -> None:
    upstream = _HangingListing()

    @dataclass
    class _Buckets:
        backends: dict[str, Any]

    @dataclass
    class _Storage:
        buckets: _Buckets

    storage = _Storage(_Buckets({"up": upstream}))
    clear = bucket_leftovers._clear(storage, ROOT, "b")  # type: ignore[arg-type]
    assert asyncio.run(_cancelled_when_raised(clear, upstream))


RGW_ID = "tx00000eb7fe79f068314a8-006b134ff7-1005-default"


def test_which_server_the_upstream_is_is_learnt_from_its_own_answers_only() -> None:
    """Ceph RGW 16 is known by its request ids. A first answer from something in front of it
    (a load balancer's 404 page, no request id) made the gateway take it for another server
    for the life of the process; now nothing is learnt until an answer names its request."""
    answers = [
        web.Response(status=404, body=b"<html>404</html>", headers={"Server": "nginx"}),
        web.Response(status=404, headers={"x-amz-request-id": RGW_ID, "Server": ""}),
    ]
    learnt: list[bool | None] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        return answers.pop(0)

    async def go() -> None:
        async with upstream(handler) as backend:
            for _ in range(2):
                response = await backend._send("GET", "ub", "k", {})
                response.release()
                learnt.append(backend.ceph_rgw)

    asyncio.run(go())
    assert learnt == [None, True]
