"""Name claims during a rolling upgrade (wave 14 C), in process on the local store.

A release before wave 13 writes no ``public_since``/``granted_since`` when it makes a bucket
public. Such a record counted from the bucket's creation date, so an old private bucket made
public through an older replica took the name, and its anonymous and cross-tenant readers, from
another tenant's bucket public since long before. It now counts from its record's own
Last-Modified (no earlier than the grant began), and keeps that time once rewritten."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from s3proxy.app import Gateway
from s3proxy.backends.records import read_record, write_record
from tests.support.asgi import call_app
from tests.unit.test_w13c_name_claims import ENDPOINT, NAME, PUBLIC, Calls, _keys, _own, _run


def _iso(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def _record(gateway: Gateway, who: str) -> dict[str, object]:
    found = await read_record(gateway.backends["store"], "home", f"{who}/.buckets/{NAME}", 4096)
    assert found is not None
    record: dict[str, object] = json.loads(found[0])
    return record


async def _write(gateway: Gateway, who: str, record: dict[str, object]) -> None:
    """Write ``who``'s settings record of NAME as another replica would."""
    marker = f"{who}/.buckets/{NAME}"
    await write_record(gateway.backends["store"], "home", marker, json.dumps(record).encode())
    for storage in gateway.runtime.storages.values():
        storage.buckets.cache.generation.bump()


def test_a_bucket_an_older_replica_made_public_claims_from_its_record(tmp_path: Path) -> None:
    async def scenario(gateway: Gateway, calls: Calls) -> None:
        assert (await calls.signed("ann", "PUT", **PUBLIC)).status == 200
        assert (await calls.signed("ann", "PUT", "k", b"ann's")).status == 200
        since = _iso(timedelta(seconds=30))  # ann's bucket public for 30 s
        await _write(gateway, "ann", await _record(gateway, "ann") | {"public_since": since})
        # bob's bucket was created 90 s ago, private; an older release makes it public now,
        # writing the record as it did: an ACL and the creation date, no time of the grant.
        assert (await calls.signed("bob", "PUT")).status == 200
        assert (await calls.signed("bob", "PUT", "k", b"bob's")).status == 200
        old = {"created": _iso(timedelta(seconds=90)), "acl": "public-read"}
        await _write(gateway, "bob", old)
        assert await calls.anonymous("k") == (200, b"ann's")
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"
        assert (await calls.signed("bob", "GET", "k")).body == b"bob's"  # his own, for him
        # bob's next settings write through this release keeps the bound, not the creation.
        tagging = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
        url = f"{ENDPOINT}/{NAME}?tagging"
        md5 = {"content-md5": base64.b64encode(hashlib.md5(tagging).digest()).decode()}
        tagged = await _own(call_app(calls.app, "PUT", url, _keys("bob"), tagging, md5))
        assert tagged.status == 204
        stored = await _record(gateway, "bob")
        assert isinstance(stored.get("public_since"), str)
        assert str(stored["public_since"]) > since and str(stored["public_since"]) > old["created"]
        assert await calls.anonymous("k") == (200, b"ann's")

    _run(tmp_path, scenario)
