"""Review of abe19cd (wave 16 R): a holder's release of its ``.ending/`` claim, bound to its ETag.

``upload_claims._release`` sends ``DELETE`` under ``If-Match`` and falls back to a plain
``DELETE`` when the upstream "refuses the header (another 4xx)". S3's own refusal of a header it
does not implement is ``501 NotImplemented`` ("A header you provided implies functionality that
is not implemented"), a 5xx: the release then raises, the caller suppresses it, and the claim
stays for good (before abe19cd the release was a plain DELETE, which removed it). Every later
Complete or abort of that upload then waits for it, and the home keeps one claim object per
ended upload.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from s3proxy.backends import upload_claims
from s3proxy.backends.local import LocalStore
from s3proxy.backends.records import read_record
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from tests.unit.local_helpers import BUCKET

HOME = UpstreamRoot("up", BUCKET, "home/")
WHERE = UpstreamLocation("up", BUCKET, "k")
KEY = upload_claims.claim_key(HOME, WHERE, "u1")


class RefusesIfMatchDeletes:
    """The store as an upstream that answers a conditional DELETE 501 NotImplemented, as S3
    answers a header whose functionality it does not implement."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store

    async def delete_matching(self, bucket: str, key: str, etag: str) -> None:
        raise S3Error(S3ErrorCode.NotImplemented)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_claim_is_released_where_the_upstream_refuses_if_match_with_501(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        store = LocalStore("up", tmp_path / "store")
        try:
            keeper = RefusesIfMatchDeletes(store)
            async with upload_claims.claimed(keeper, HOME, WHERE, "u1"):
                assert await read_record(store, BUCKET, KEY, 64) is not None
            assert await read_record(store, BUCKET, KEY, 64) is None  # left behind for good
        finally:
            await store.close()

    asyncio.run(main())
