"""A listing must never end early with a 200: sync tools (``aws s3 sync --delete``, ``rclone
sync``) delete what a listing omits.

An upstream may answer a ListObjectsV2 page ``IsTruncated=true`` without a
``NextContinuationToken``; the merge took that shard as finished, and a client page of 16 shards
ended after a few dozen keys each with no continuation. The upstream here is a scripted HTTP
server on loopback that lists like S3 (byte order, start-after, common prefixes) and leaves the
token out of every truncated page; the listing goes through :class:`S3Upstream` and the shard
merge exactly as :class:`MappedStorage` drives them.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import pytest
from aiohttp import web

from s3proxy.backends.s3 import S3Upstream
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import KeyEncoding, key_part
from s3proxy.listing import ListQuery, merge_listing
from s3proxy.model import ListPage
from tests.unit.test_listing import reference, s3_list
from tests.unit.test_s3_multipart import upstream

ROOT = "home/t/bkt/"
ROOTS = [ROOT + format(i, "x") + "/" for i in range(16)]
KEYS = (
    [f"dir{n % 7:02d}/file-{n:06d}.txt" for n in range(2400)]
    + [f"p/{n:03d}/x" for n in range(300)]  # pages that end on a common prefix
    + ["top", "z/a", "z/b"]
)


def shard_of(key: str) -> str:
    return ROOT + hashlib.sha256(key.encode()).hexdigest()[:1] + "/"


def tokenless(stored: list[str], *, empty: bool = False) -> Any:
    """An S3-like ListObjectsV2 over ``stored`` whose truncated pages carry no token (or, with
    ``empty``, list nothing at all)."""

    async def handler(request: web.Request) -> web.Response:
        query = request.query
        after = query.get("continuation-token", query.get("start-after"))
        keys, prefixes, truncated = s3_list(
            stored, query["prefix"], query.get("delimiter"), after, int(query["max-keys"])
        )
        if empty and truncated:
            keys, prefixes = [], []
        body = "".join(
            f"<Contents><Key>{escape(quote(key))}</Key><ETag>&quot;e&quot;</ETag><Size>1</Size>"
            f"<LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>"
            for key in keys
        ) + "".join(
            f"<CommonPrefixes><Prefix>{escape(quote(p))}</Prefix></CommonPrefixes>"
            for p in prefixes
        )
        return web.Response(
            body=(
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{body}</ListBucketResult>"
            ).encode()
        )

    return handler


async def walk(
    backend: S3Upstream, prefix: str, delimiter: str | None, max_keys: int, encoding: KeyEncoding
) -> tuple[list[str], list[str]]:
    """Every client page, as the handler pages with the merge's ``last``."""
    upstream_delimiter = delimiter if encoding == "plain" else None

    async def fetch(within: str, start_after: str | None, size: int, token: str | None) -> ListPage:
        return await backend.list_objects(
            "ub", within, upstream_delimiter, start_after, size, token
        )

    keys: list[str] = []
    prefixes: list[str] = []
    after: str | None = None
    for _ in range(10_000):
        page = await merge_listing(
            ROOTS, ListQuery(prefix, delimiter, after, max_keys), fetch, encoding
        )
        keys += [entry.key for entry in page.entries]
        prefixes += page.prefixes
        if not page.is_truncated:
            return keys, prefixes
        after = page.last
    raise AssertionError("the listing never ended")


@pytest.mark.parametrize(
    ("encoding", "prefix", "delimiter", "max_keys"),
    [
        ("flat", "", None, 1000),
        ("flat", "", None, 37),
        ("flat", "dir0", "/", 3),
        ("plain", "", None, 1000),
        ("plain", "", "/", 2),
        ("plain", "p/", "/", 50),
        ("flat", "p/", "/", 50),
        ("plain", "dir03/", "/", 50),
    ],
)
def test_truncated_pages_without_a_token_list_every_key(
    encoding: KeyEncoding, prefix: str, delimiter: str | None, max_keys: int
) -> None:
    stored = sorted(shard_of(key) + key_part(key, encoding) for key in KEYS)

    async def go() -> tuple[list[str], list[str]]:
        async with upstream(tokenless(stored)) as backend:
            return await walk(backend, prefix, delimiter, max_keys, encoding)

    assert asyncio.run(go()) == reference(KEYS, prefix, delimiter)


def test_truncated_page_listing_nothing_without_a_token_is_an_error() -> None:
    stored = sorted(shard_of(key) + key_part(key, "flat") for key in KEYS)

    async def go() -> None:
        async with upstream(tokenless(stored, empty=True)) as backend:
            await walk(backend, "", None, 37, "flat")

    with pytest.raises(S3Error) as raised:
        asyncio.run(go())
    assert raised.value.code == S3ErrorCode.InternalError


def test_an_upstream_token_is_still_sent_as_the_continuation_token() -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        return web.Response(
            body=b"<ListBucketResult><IsTruncated>true</IsTruncated>"
            b"<NextContinuationToken>t~1</NextContinuationToken>"
            b"<Contents><Key>p/a</Key></Contents></ListBucketResult>"
        )

    async def go() -> None:
        async with upstream(handler) as backend:
            page = await backend.list_objects("ub", "p/", None, None, 1)
            await backend.list_objects("ub", "p/", None, None, 1, page.next_token)

    asyncio.run(go())
    assert "start-after" not in seen[1]
    assert seen[1]["continuation-token"] == "t~1"
