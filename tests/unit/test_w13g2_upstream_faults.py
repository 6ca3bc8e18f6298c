"""Upstream faults, follow-ups of wave 13 G (wave 13 G2).

- A listing over shards whose one page request fails stops the others (s3proxy.fanout): the
  client's 500 is not followed by the rest of the fan-out holding upstream connections.
- A 404 or 405 without an S3 code, to a request whose answer has a body, is not an S3 answer
  (a load balancer's page): 500, never a NoSuchKey that tells a PUT's client something false.
- ListMultipartUploads learns how to page an upstream only from an answer it could read as
  S3's, never from an HTML page something in front of it sent with its own Server header.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from s3proxy.backends.upload_markers import KEPT, MARKER_MODES
from s3proxy.backends.upstream_errors import translate
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.fanout import all_or_none
from s3proxy.listing import ListQuery, merge_listing
from s3proxy.model import ListPage, ReadConditions
from tests.unit.test_s3_multipart import upstream

C = S3ErrorCode


def test_a_failing_shard_cancels_the_other_shard_requests() -> None:
    """Shard 00 fails at once; the fifteen others are still waiting for their upstream."""
    roots = [f"{n:02x}/" for n in range(16)]
    cancelled: list[str] = []

    async def fetch(prefix: str, after: str | None, n: int, token: str | None) -> ListPage:
        if prefix.startswith("00/"):
            raise S3Error(C.ServiceUnavailable)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(prefix)
            raise
        raise AssertionError("never answered")

    async def go() -> None:
        with pytest.raises(S3Error):
            await merge_listing(roots, ListQuery("", None, None, 1000), fetch)
        assert sorted(cancelled) == roots[1:]  # all gone by the time the client has its error

    asyncio.run(go())


def test_all_or_none_keeps_order_and_the_first_error() -> None:
    async def value(n: int) -> int:
        await asyncio.sleep(0)
        return n

    async def fails() -> int:
        raise KeyError("first")

    async def go() -> None:
        assert await all_or_none(value(1), value(2), value(3)) == [1, 2, 3]
        with pytest.raises(KeyError):
            await all_or_none(value(1), fails())

    asyncio.run(go())


@pytest.mark.parametrize(
    ("status", "code_name", "bodied", "expected"),
    [
        (404, "", True, C.InternalError),  # a load balancer's 404 page, not S3's
        (405, "", True, C.InternalError),
        (404, "", False, C.NoSuchKey),  # a HEAD's answer never has a body
        (404, "NoSuchKey", True, C.NoSuchKey),
        (404, "NoSuchBucket", True, C.NoSuchBucket),
        (304, "", True, C.NotModified),  # never has a body either
        (412, "", True, C.PreconditionFailed),
        (429, "", True, C.SlowDown),
    ],
)
def test_code_less_statuses(status: int, code_name: str, bodied: bool, expected: C) -> None:
    assert translate(status, code_name, bodied=bodied).code is expected


def _not_found_page(request: web.Request) -> web.StreamResponse:
    return web.Response(status=404, text="<html>404 Not Found</html>", content_type="text/html")


def test_a_bare_404_is_no_answer_about_the_key_but_a_head_404_still_is() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return web.Response(status=404)
        return _not_found_page(request)

    async def go() -> list[S3Error]:
        async with upstream(handler) as backend:
            errors = []
            for call in (
                backend.get_object("ub", "k", None, ReadConditions()),
                backend.list_objects("ub", "", None, None, 10),
                backend.delete_object("ub", "k"),  # was "already gone": 204, still stored
                backend.head_object("ub", "k", ReadConditions()),
            ):
                with pytest.raises(S3Error) as raised:
                    await call
                errors.append(raised.value)
            return errors

    *bodied, head = asyncio.run(go())
    assert [(e.status, e.code) for e in bodied] == [(500, C.InternalError)] * 3
    assert (head.status, head.code) == (404, C.NoSuchKey)


def test_a_delete_of_a_key_s3_says_is_gone_is_done() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, body=b"<Error><Code>NoSuchKey</Code></Error>")

    async def go() -> None:
        async with upstream(handler) as backend:
            await backend.delete_object("ub", "k")

    asyncio.run(go())


UPLOADS = (
    b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
    b"<Upload><Key>k</Key><UploadId>u</UploadId><Initiated>t</Initiated></Upload>"
    b"</ListMultipartUploadsResult>"
)


def test_upload_paging_is_learnt_from_an_s3_answer_only() -> None:
    """The first answer is a front proxy's HTML 200 (Server: nginx): refused, nothing learnt;
    the next, MinIO's own, teaches that its markers are S3's (asked once, with them)."""
    answers: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        answers.append(request.query_string)
        if len(answers) == 1:
            return web.Response(text="<html>maintenance</html>", headers={"Server": "nginx"})
        return web.Response(body=UPLOADS, headers={"Server": "MinIO"})

    async def go() -> tuple[str | None, str | None]:
        async with upstream(handler) as backend:
            key = (backend.name, backend._config.endpoint)
            with pytest.raises(S3Error) as first:
                await backend.list_multipart_uploads("ub", "", None, "a", "u0", 5)
            assert first.value.code is C.InternalError
            after_html = MARKER_MODES.get(key)
            page = await backend.list_multipart_uploads("ub", "", None, "a", "u0", 5)
            assert [u.key for u in page.uploads] == ["k"]
            return after_html, MARKER_MODES.get(key)

    after_html, learnt = asyncio.run(go())
    assert after_html is None
    assert learnt == KEPT
    assert len(answers) == 2 and "key-marker=a" in answers[1]
