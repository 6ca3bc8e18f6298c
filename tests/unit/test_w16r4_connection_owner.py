"""Whose connection it is (s3proxy.connection_owners), as the app notes it (wave 16 R4): only
an authenticated requester becomes a connection's owner. An anonymous read of a public bucket
used to make the connection the bucket owner's, so anyone could make that tenant the largest
holder and have its own idle connections closed in place of the flood's (the integration
proof: tests/integration/test_w16r3_anonymous_owner.py). In process, no sleeping."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from s3proxy import connection_owners
from s3proxy.app import Gateway, S3App
from s3proxy.connection_owners import Held, Owners
from tests.support.asgi import local_tenants_settings, tenant_keys
from tests.support.s3http import sign

ENDPOINT = "http://127.0.0.1:9000"
TAG = "W16R4"
PEER = ("10.0.0.7", 40001)


class Idle:
    def idle_for(self) -> float:
        return 60.0

    def reclaim(self) -> None:  # pragma: no cover - nothing is reclaimed here
        raise AssertionError


async def request(
    app: S3App,
    method: str,
    path: str,
    tenant: str | None,
    headers: dict[str, str] | None = None,
    peer: tuple[str, int] = PEER,
) -> int:
    """One request from ``peer`` into ``app``: signed by ``tenant``'s key, or anonymous."""
    url = f"{ENDPOINT}/{path}"
    given = dict(headers or {})
    signed = sign(method, url, *tenant_keys(tenant, TAG), given, b"") if tenant else given
    raw = [(name.lower().encode(), value.encode()) for name, value in signed.items()]
    if tenant is None:
        raw.append((b"host", b"127.0.0.1:9000"))
    split = urlsplit(url)
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": split.path,
        "raw_path": split.path.encode(),
        "query_string": split.query.encode(),
        "headers": raw,
        "client": peer,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


def test_an_anonymous_request_leaves_the_connection_to_its_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owners = Owners()
    monkeypatch.setattr(connection_owners, "ACTIVE", [owners])
    held = Held(PEER[0], PEER, Idle())
    owners.add(held)

    async def main() -> None:
        gateway = Gateway(local_tenants_settings(str(tmp_path), ["alice", "bob"], TAG))
        app = S3App(gateway)
        try:
            acl = {"x-amz-acl": "public-read"}
            assert await request(app, "PUT", "shared", "bob", acl, ("10.0.0.8", 1)) == 200
            # An anonymous read of bob's public bucket: answered, and the connection stays
            # its address's (it was bob's before: anyone could make bob the largest holder).
            assert await request(app, "GET", "shared/missing", None) == 404
            assert held.owner == "@10.0.0.7"
            assert list(owners.groups) == ["@10.0.0.7"]
            # A request signed by alice makes it alice's.
            assert await request(app, "GET", "shared/missing", "alice") in (403, 404)
            assert held.owner == "alice"
            assert list(owners.groups) == ["alice"]
            # Then an anonymous one keeps it alice's.
            assert await request(app, "GET", "shared/missing", None) == 404
            assert held.owner == "alice"
        finally:
            await gateway.close()

    asyncio.run(main())
