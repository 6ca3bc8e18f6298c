"""An upload's ``.ending/`` claim left by a dead holder is removed on a real SeaweedFS, bound to
its ETag, whichever release wrote it; and a wave 15 replica still meets the new claims as its
own (wave 16, A).

The gateway's upstream client talks to SeaweedFS 4.48 in process (``PATIENCE`` cut to half a
second). What the unit tests cannot show: the claim's ETag and Last-Modified as SeaweedFS
answers a HEAD, SeaweedFS refusing the bound DELETE once the claim is another's (412), and
an empty claim (what 49dfff4 writes) removed the same way. Before, the waiter ran unclaimed
beside the dead claim, which stayed for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from typing import Any

import pytest

from s3proxy.backends import upload_claims
from s3proxy.backends.records import read_record, write_record
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import UpstreamLocation, UpstreamRoot
from s3proxy.model import WriteConditions
from tests.conftest import SEAWEED_ACCESS_KEY, SEAWEED_SECRET_KEY

pytestmark = pytest.mark.integration
BUCKET = "w16a-claims"


def test_dead_claims_are_removed_and_an_older_replica_waits_for_new_ones(
    seaweed: Any, upstream_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_claims, "PATIENCE", 0.5)
    monkeypatch.setattr(upload_claims, "ROUNDS", 1000, raising=False)  # a loaded box: no give-up
    with contextlib.suppress(upstream_s3.exceptions.BucketAlreadyOwnedByYou):
        upstream_s3.create_bucket(Bucket=BUCKET)
    home = UpstreamRoot("sw", BUCKET, f"h{uuid.uuid4().hex[:8]}/")
    where = UpstreamLocation("sw", BUCKET, "k")
    config = UpstreamConfig(
        endpoint=seaweed.endpoint, access_key=SEAWEED_ACCESS_KEY, secret_key=SEAWEED_SECRET_KEY
    )

    async def claim_of(keeper: S3Upstream, key: str) -> bytes | None:
        found = await read_record(keeper, BUCKET, key, 64)
        return None if found is None else found[0]

    async def main() -> None:
        keeper = S3Upstream("sw", config)
        try:
            for upload, dead in (("u1", b"0123456789abcdef"), ("u2", b"")):  # this / wave 15's
                key = upload_claims.claim_key(home, where, upload)
                await write_record(keeper, BUCKET, key, dead)
                async with upload_claims.claimed(keeper, home, where, upload):
                    held = await claim_of(keeper, key)
                    assert held is not None and len(held) == 32  # the waiter's own
                    # a wave 15 replica's claim, written as 49dfff4 writes it, meets it: 412
                    with pytest.raises(S3Error) as refused:
                        await write_record(
                            keeper, BUCKET, key, conditions=WriteConditions(if_none_match="*")
                        )
                    assert refused.value.code is S3ErrorCode.PreconditionFailed
                    # the dead claim's ETag no longer deletes it (a late waiter's bound delete)
                    stale = '"' + hashlib.md5(dead).hexdigest() + '"'
                    with pytest.raises(S3Error):
                        await keeper.delete_matching(BUCKET, key, stale)
                    assert await claim_of(keeper, key) == held
                assert await claim_of(keeper, key) is None
        finally:
            await keeper.close()

    asyncio.run(main())
