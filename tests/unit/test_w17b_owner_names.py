"""Listings of a tenant's bucket show its name to no one else (wave 17, B), in process on the
local store.

Every ``<Owner>`` and ``<Initiator>`` carried the tenant's name from the configuration as
``DisplayName``, so every anonymous reader of a ``public-read`` bucket, and every tenant it
grants READ, learnt which tenant the bucket belongs to. S3 has answered no DisplayName to anyone
since 2025-11-21; other callers now get the owner id alone, and the owner its own answers as
before."""

from __future__ import annotations

import asyncio
from pathlib import Path

from s3proxy.app import Gateway, S3App
from s3proxy.owner import shown_owner_id
from tests.support.asgi import (
    call_anonymous,
    call_app,
    local_tenants_settings,
    own_context,
    tenant_keys,
)

ENDPOINT = "http://127.0.0.1:9000"
TAG = "W17BOWNER0"
BUCKET = "named-bucket"
LISTINGS = ("", "versions", "uploads", "list-type=2&fetch-owner=true")
"""ListObjects, ListObjectVersions, ListMultipartUploads, ListObjectsV2 with its owners."""


def test_only_the_owner_sees_its_name_in_its_listings(tmp_path: Path) -> None:
    async def main() -> None:
        gateway = Gateway(local_tenants_settings(str(tmp_path), ("ann", "bob"), TAG))
        app = S3App(gateway)

        async def signed(who: str, method: str, query: str = "", key: str = "", **h: str) -> bytes:
            url = f"{ENDPOINT}/{BUCKET}{'/' + key if key else ''}{'?' + query if query else ''}"
            answer = await own_context(call_app(app, method, url, tenant_keys(who, TAG), b"", h))
            assert answer.status == 200, answer.body
            return answer.body

        try:
            await signed("ann", "PUT", **{"x-amz-acl": "public-read"})
            await signed("ann", "PUT", key="k", **{"content-length": "0"})
            await signed("ann", "POST", "uploads", key="u")
            # Others see the owner's id keyed by the server secret (wave 18 C: the derived one
            # let them test guesses of the name; tests/unit/test_w18c_owner_ids.py).
            secret = gateway.runtime.settings.server.secret
            assert secret is not None
            shown = shown_owner_id("ann", None, secret.get_secret_value())
            owner = f"<ID>{shown}</ID>".encode()
            for query in LISTINGS:
                status, anonymous = await call_anonymous(app, "GET", f"/{BUCKET}", query)
                assert status == 200, anonymous
                for answer in (anonymous, await signed("bob", "GET", query)):
                    assert owner in answer and b"DisplayName" not in answer, (query, answer)
                assert b"<DisplayName>ann</DisplayName>" in await signed("ann", "GET", query)
        finally:
            await gateway.close()

    asyncio.run(main())
