"""s3proxy.backends.upload_scans: on an upstream whose every ListMultipartUploads reads its whole
bucket (SeaweedFS), a client page asks once for its bucket root when that holds less than a page,
and each tenant has one such scan in the upstream at a time (wave 17 F)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from s3proxy.backends.upload_markers import uploads_after
from s3proxy.limits import CURRENT_TENANT
from s3proxy.model import UploadInfo, UploadsPage
from tests.unit.test_mapped_multipart import (
    ROOT,
    reference,
    storage,
    upstream_key,
    walk,
)
from tests.unit.test_s3_multipart import upstream

SEAWEEDFS = {"Server": "SeaweedFS 8000GB 4.48"}


class WholeScans:
    """An upstream listed as the proxy lists SeaweedFS: each call one whole page under a prefix,
    cut by the proxy (``uploads_after``); ``whole_uploads`` answers a prefix when at most
    ``cap`` uploads are under it (the upstream's page), else None."""

    def __init__(self, uploads: list[tuple[str, str]], cap: int) -> None:
        self.uploads = uploads  # upstream order: as created, not by key
        self.cap = cap
        self.calls: Counter[str] = Counter()

    def _under(self, prefix: str) -> list[UploadInfo]:
        return [
            UploadInfo(key, upload_id, "2026-01-01T00:00:00.000Z")
            for key, upload_id in self.uploads
            if key.startswith(prefix)
        ]

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        key_marker: str | None,
        upload_id_marker: str | None,
        max_uploads: int,
    ) -> UploadsPage:
        assert bucket == ROOT.bucket and delimiter is None
        self.calls["shard"] += 1
        page = UploadsPage(self._under(prefix), [], None)
        return uploads_after(page, key_marker, upload_id_marker, max_uploads)

    async def whole_uploads(self, bucket: str, prefix: str) -> UploadsPage | None:
        assert bucket == ROOT.bucket and prefix.startswith(ROOT.prefix)
        self.calls["root" if prefix == ROOT.prefix else "whole shard"] += 1
        under = self._under(prefix)
        return UploadsPage(under, [], None) if len(under) <= self.cap else None


keys = st.text(alphabet="ab/-é", min_size=1, max_size=4)


@settings(max_examples=120, deadline=None)
@given(
    drawn=st.lists(st.tuples(keys, st.integers(1, 3)), min_size=1, max_size=20),
    prefix=st.sampled_from(["", "a", "a/", "é"]),
    delimiter=st.sampled_from([None, "/", "-"]),
    max_uploads=st.integers(1, 6),
    digits=st.sampled_from([1, 2]),
    cap=st.sampled_from([5, 1000]),
)
def test_pages_cut_from_the_root_equal_the_reference(
    drawn: list[tuple[str, int]],
    prefix: str,
    delimiter: str | None,
    max_uploads: int,
    digits: int,
    cap: int,
) -> None:
    """Exact whether the root fits one upstream answer or not (then per shard); when it fits,
    a client page costs that one upstream call and no other, else each shard is asked whole
    once a page at most (a shard the merge reads in pieces is not asked again; one holding more
    than an answer's worth is then read as before)."""
    client = [(key, f"id{n}{key}") for n, (key, count) in enumerate(drawn) for _ in range(count)]
    client = list(dict.fromkeys(client))
    backend = WholeScans([(upstream_key(key, digits), uid) for key, uid in client], cap)
    got = asyncio.run(walk(storage(backend, digits), prefix, delimiter, max_uploads))  # type: ignore[arg-type]
    assert got == reference(client, prefix, delimiter)
    pages = backend.calls["root"]  # one a page
    if len(client) <= cap:
        assert backend.calls["shard"] == backend.calls["whole shard"] == 0
    else:
        assert backend.calls["whole shard"] <= 16**digits * pages  # each shard once a page


def _answer(*uploads: tuple[str, str], truncated: bool = False) -> web.Response:
    body = "".join(
        f"<Upload><Key>{key}</Key><UploadId>{uid}</UploadId><Initiated>t</Initiated></Upload>"
        for key, uid in uploads
    )
    flag = "true" if truncated else "false"
    return web.Response(
        body=f"<ListMultipartUploadsResult><IsTruncated>{flag}</IsTruncated>{body}"
        "</ListMultipartUploadsResult>".encode(),
        headers=SEAWEEDFS,
    )


def test_whole_uploads_only_where_every_listing_reads_the_bucket() -> None:
    """None until the upstream is known to scan its bucket, and for a truncated answer: then
    that prefix is not asked whole again for a while (another prefix is)."""
    truncated = False
    asked: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        assert "key-marker" not in request.query and request.query["max-uploads"] == "1000"
        asked.append(request.query["prefix"])
        return _answer(("p/0/k", "u1"), ("p/1/k", "u2"), truncated=truncated)

    async def go() -> None:
        nonlocal truncated
        async with upstream(handler) as backend:
            assert await backend.whole_uploads("ub", "p/") is None  # not known yet
            await backend.list_multipart_uploads("ub", "p/0/", None, None, None, 1000)
            page = await backend.whole_uploads("ub", "p/")
            assert page is not None
            assert [(u.key, u.upload_id) for u in page.uploads] == [
                ("p/0/k", "u1"),
                ("p/1/k", "u2"),
            ]
            truncated = True
            assert await backend.whole_uploads("ub", "p/") is None
            count = len(asked)
            assert await backend.whole_uploads("ub", "p/") is None
            assert len(asked) == count  # crowded: not asked again
            truncated = False
            assert await backend.whole_uploads("ub", "q/") is not None

    asyncio.run(go())


def _busy(backend: Any, tenant: str) -> int:
    """How many of ``tenant``'s scans hold or wait for a turn (0 where there are no turns)."""
    try:
        from s3proxy.backends.upload_scans import TURNS
    except ImportError:  # the baseline
        return 0
    turns = TURNS.get((backend.name, backend._config.endpoint))
    return 0 if turns is None else turns.busy(tenant)


def test_one_scan_in_the_upstream_per_tenant() -> None:
    """Tenant a's six listings scan one at a time; tenant b's is answered while a's wait."""
    active: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    release = asyncio.Event()
    arrived = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        who = request.query["prefix"][:1]
        active[who] += 1
        peak[who] = max(peak[who], active[who])
        try:
            if who == "a":
                arrived.set()
                await release.wait()
            return _answer((f"{who}/k", "u"))
        finally:
            active[who] -= 1

    async def listing(backend: Any, tenant: str) -> UploadsPage:
        CURRENT_TENANT.set(tenant)
        page: UploadsPage = await backend.list_multipart_uploads(
            "ub", f"{tenant}/", None, None, None, 1000
        )
        return page

    async def go() -> None:
        async with upstream(handler) as backend:
            await listing(backend, "learn")  # the upstream's marker mode, learnt once
            a = [asyncio.create_task(listing(backend, "a")) for _ in range(6)]
            try:
                await asyncio.wait_for(arrived.wait(), 5)
                for _ in range(500):  # until a's six are at the upstream or in their turns' queue
                    if peak["a"] > 1 or _busy(backend, "a") == 6:
                        break
                    await asyncio.sleep(0.01)
                b = await asyncio.wait_for(listing(backend, "b"), 5)
                assert [u.key for u in b.uploads] == ["b/k"]
                assert peak["a"] == 1
            finally:
                release.set()
                pages = await asyncio.wait_for(asyncio.gather(*a), 5)
            assert all([u.key for u in page.uploads] == ["a/k"] for page in pages)
            assert peak["a"] == 1

    asyncio.run(go())


def test_a_turn_rests_after_its_scan_for_that_tenant_only() -> None:
    """With a rest far longer than the test, a tenant's next scan waits after its first one
    ended while another tenant's starts at once; a waiter that gives up leaves no entry."""
    from s3proxy.backends.upload_scans import ScanTurns

    async def go() -> None:
        turns = ScanTurns(rest=1000.0)
        started: list[str] = []

        async def scan(tenant: str) -> None:
            CURRENT_TENANT.set(tenant)
            async with turns.turn():
                started.append(tenant)

        await scan("a")
        again = asyncio.create_task(scan("a"))
        await scan("b")
        for _ in range(20):
            await asyncio.sleep(0)
        assert started == ["a", "b"]
        assert turns.busy("a") == 2  # the resting turn and its waiter
        again.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await again
        assert turns.busy("a") == 1  # the resting turn only

    asyncio.run(go())
