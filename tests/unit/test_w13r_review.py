"""Wave 13 review (R): findings in what the wave's commits changed, in process on the local
store. Each test fails on the commit it reviews."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from s3proxy.app import Gateway
from s3proxy.backends.records import read_record, write_record
from tests.support.asgi import call_app
from tests.unit.test_w13c_name_claims import ENDPOINT, NAME, PUBLIC, Calls, _keys, _own, _run


async def _set_record(gateway: Gateway, who: str, **members: str) -> None:
    """Rewrite members of ``who``'s settings record of NAME, as another replica would."""
    backend, marker = gateway.backends["store"], f"{who}/.buckets/{NAME}"
    found = await read_record(backend, "home", marker, 4096)
    assert found is not None
    await write_record(backend, "home", marker, json.dumps(json.loads(found[0]) | members).encode())
    for storage in gateway.runtime.storages.values():
        storage.buckets.cache.generation.bump()


def _iso(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).isoformat(timespec="microseconds").replace("+00:00", "Z")


def test_an_object_acl_set_later_never_takes_a_public_buckets_readers(tmp_path: Path) -> None:
    """Bob has an old private bucket of the name with an old object in it; Ann's bucket of the
    name became public after that. Bob's PutObjectAcl public-read on his *old* object grants
    from now. Before, the claim counted from the object's Last-Modified, so Bob took the key's
    anonymous and cross-tenant readers from Ann's public bucket and served them his bytes."""

    async def scenario(gateway: Gateway, calls: Calls) -> None:
        assert (await calls.signed("bob", "PUT")).status == 200
        assert (await calls.signed("bob", "PUT", "k", b"bob's")).status == 200
        db = gateway.backends["store"].index.db  # type: ignore[attr-defined]
        db.execute("UPDATE objects SET modified_ms = modified_ms - 60000")  # written long ago
        assert (await calls.signed("ann", "PUT", **PUBLIC)).status == 200
        assert (await calls.signed("ann", "PUT", "k", b"ann's")).status == 200
        url = f"{ENDPOINT}/{NAME}/k?acl"
        granted = await _own(call_app(calls.app, "PUT", url, _keys("bob"), headers=PUBLIC))
        assert granted.status == 200
        # Ann's bucket public 30 s ago: after bob's object and bucket, before his grant.
        since = _iso(timedelta(seconds=30))
        await _set_record(gateway, "ann", public_since=since, granted_since=since)
        await _set_record(gateway, "bob", created=_iso(timedelta(seconds=90)))
        assert await calls.anonymous("k") == (200, b"ann's")
        assert (await calls.signed("cat", "GET", "k")).body == b"ann's"
        assert (await calls.signed("bob", "GET", "k")).body == b"bob's"  # his own, for him

    _run(tmp_path, scenario)
