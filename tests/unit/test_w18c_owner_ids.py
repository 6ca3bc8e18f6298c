"""The owner id others see names no tenant to a guesser (wave 18 C, s3proxy.owner).

Since wave 17 an anonymous reader of a ``public-read`` bucket, and every tenant it grants READ,
is shown the owner id alone, not the tenant's name. But the default id is SHA-256 of a fixed
string and the name: anyone shown it could try names (``acme``, ``billing`` …) until one
derives it, and so learn the name all the same. Others are now shown the same derivation keyed
by the server secret (the same on every replica); the tenant's own answers, and the id its
clients may have pinned in ``x-amz-expected-bucket-owner``, are unchanged. A configured
``owner_id`` is the operator's to show, and is shown."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from pydantic import SecretStr

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from s3proxy.owner import derived_owner_id
from tests.support.asgi import (
    call_anonymous,
    call_app,
    local_tenants_settings,
    own_context,
    tenant_keys,
)

ENDPOINT = "http://127.0.0.1:9000"
TAG = "W18COWNER0"
LISTINGS = ("", "versions", "uploads", "list-type=2&fetch-owner=true")
"""ListObjects, ListObjectVersions, ListMultipartUploads, ListObjectsV2 with its owners."""


def _ids(body: bytes) -> set[bytes]:
    return set(re.findall(rb"<ID>([0-9]+)</ID>", body))


def _with_secret(settings: Settings, secret: str) -> Settings:
    server = settings.server.model_copy(update={"secret": SecretStr(secret)})
    return settings.model_copy(update={"server": server})


async def _shown_to_others(settings: Settings, create: bool) -> tuple[bytes, bytes, bytes]:
    """(the id an anonymous reader, another tenant, and a configured tenant's reader see)."""
    gateway = Gateway(settings)
    app = S3App(gateway)

    async def signed(who: str, method: str, path: str, **headers: str) -> tuple[int, bytes]:
        keys = tenant_keys(who, TAG)
        answer = await own_context(call_app(app, method, ENDPOINT + path, keys, b"", headers))
        return answer.status, answer.body

    try:
        for who in ("ann", "cal") if create else ():
            made = await signed(who, "PUT", f"/{who}-open", **{"x-amz-acl": "public-read"})
            assert made[0] == 200, made
            put = await signed(who, "PUT", f"/{who}-open/k", **{"content-length": "0"})
            assert put[0] == 200, put
            assert (await signed(who, "POST", f"/{who}-open/u?uploads"))[0] == 200
        own = derived_owner_id("ann").encode()
        seen: set[bytes] = set()
        for query in LISTINGS:
            path = f"/ann-open?{query}" if query else "/ann-open"
            status, anonymous = await call_anonymous(app, "GET", "/ann-open", query)
            assert status == 200, anonymous
            status, foreign = await signed("bob", "GET", path)
            assert status == 200, foreign
            seen |= _ids(anonymous) | _ids(foreign)
            assert _ids(anonymous) == _ids(foreign), query  # one id for everyone else
            status, mine = await signed("ann", "GET", path)  # the owner's own: unchanged
            assert (status, _ids(mine)) == (200, {own}), (query, mine)
        assert len(seen) == 1
        shown = seen.pop()
        status, configured = await call_anonymous(app, "GET", "/cal-open")
        assert status == 200
        return shown, own, configured
    finally:
        await gateway.close()


def test_others_see_an_owner_id_no_name_guess_derives(tmp_path: Path) -> None:
    configured = {"cal": {"owner_id": "111122223333"}}
    settings = local_tenants_settings(str(tmp_path), ("ann", "bob", "cal"), TAG, configured)

    shown, own, listed = asyncio.run(_shown_to_others(settings, create=True))
    assert shown != own, "others are shown the id anyone can derive from the tenant's name"
    assert re.fullmatch(rb"[0-9]{12}", shown)
    assert _ids(listed) == {b"111122223333"}  # a configured id is the operator's to show
    # Another replica (same secret) shows the same id; another secret, another one.
    assert asyncio.run(_shown_to_others(settings, create=False))[0] == shown
    other = asyncio.run(_shown_to_others(_with_secret(settings, "t" * 32), create=False))[0]
    assert other not in (shown, own)

    async def condition() -> None:
        gateway = Gateway(settings)
        app = S3App(gateway)
        expect = "x-amz-expected-bucket-owner"
        try:
            # The anonymous bucket owner condition names the id shown, never the derived one:
            # a guesser cannot test a name against it either.
            served = await call_anonymous(app, "GET", "/ann-open/k", "", {expect: shown.decode()})
            assert served[0] == 200, served
            guessed = await call_anonymous(app, "GET", "/ann-open/k", "", {expect: own.decode()})
            assert guessed[0] == 403, guessed
            # The tenant's own pinned id keeps working on its own requests.
            keys = tenant_keys("ann", TAG)
            url = f"{ENDPOINT}/ann-open/k"
            mine = await own_context(call_app(app, "GET", url, keys, b"", {expect: own.decode()}))
            assert mine.status == 200, mine.body
        finally:
            await gateway.close()

    asyncio.run(condition())
