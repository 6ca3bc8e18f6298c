"""Deletes across tenants (wave 13 C2), in process on the local store.

DeleteObjects signed by another tenant in a bucket whose ACL grants it READ was a whole-request
403; S3 judges a DeleteObjects key by key (s3:DeleteObject on each) and answers 200 naming
AccessDenied for every key, deleting nothing. An anonymous DeleteObject in a
``public-read-write`` bucket was 403, where S3's WRITE grant (s3:DeleteObject) carries it out:
now it is the owner's own delete, its quota freed."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import Answer, call_app, http_scope

ENDPOINT = "http://127.0.0.1:9000"
NAME = "open-bucket"


def _keys(name: str) -> tuple[str, str]:
    return (f"AK{name.upper()}DELETES000", f"{name}-secret-" + "s" * 24)


def _settings(root: Path) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                name: {
                    "keys": [{"access_key": _keys(name)[0], "secret_key": _keys(name)[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                    **({"quota": {"max_objects": 1}} if name == "ann" else {}),
                }
                for name in ("ann", "bob")
            },
        }
    )


def _own(request: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Each request in a task with a fresh context, as a server runs it."""
    return asyncio.create_task(request, context=contextvars.Context())


class Calls:
    def __init__(self, app: S3App) -> None:
        self.app = app

    async def signed(
        self, who: str, method: str, path: str = "", body: bytes = b"", **headers: str
    ) -> Answer:
        url = f"{ENDPOINT}/{NAME}{path}"
        return await _own(call_app(self.app, method, url, _keys(who), body, headers))

    async def anonymous(
        self, method: str, key: str, query: str = "", **headers: str
    ) -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = http_scope(method, f"/{NAME}/{key}", query, headers)
        await _own(self.app(scope, receive, send))
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return int(sent[0]["status"]), body

    async def delete_objects(self, who: str, *keys: str, md5: str | None = None) -> Answer:
        objects = "".join(f"<Object><Key>{key}</Key></Object>" for key in keys)
        body = f"<Delete>{objects}</Delete>".encode()
        digest = md5 or base64.b64encode(hashlib.md5(body).digest()).decode()
        return await self.signed(who, "POST", "?delete", body, **{"content-md5": digest})


def _run(root: Path, scenario: Callable[[Calls], Awaitable[None]]) -> None:
    async def main() -> None:
        gateway = Gateway(_settings(root))
        try:
            await scenario(Calls(S3App(gateway)))
        finally:
            await gateway.close()

    asyncio.run(main())


def test_another_tenants_delete_objects_is_refused_key_by_key(tmp_path: Path) -> None:
    async def scenario(calls: Calls) -> None:
        assert (await calls.signed("ann", "PUT")).status == 200
        assert (await calls.signed("ann", "PUT", "/k", b"ann's")).status == 200
        # A bucket granting bob nothing: NoSuchBucket, as before (nothing learnt about it).
        assert (await calls.delete_objects("bob", "k")).status == 404
        for acl in ("public-read", "authenticated-read"):
            answer = await calls.signed("ann", "PUT", "?acl", **{"x-amz-acl": acl})
            assert answer.status == 200
            answer = await calls.delete_objects("bob", "k", "missing")
            assert answer.status == 200, answer.body
            assert answer.body.count(b"<Code>AccessDenied</Code>") == 2
            assert b"<Deleted>" not in answer.body
            assert (await calls.signed("bob", "GET", "/k")).body == b"ann's"  # still there
            # The body is checked as for any DeleteObjects.
            bad = await calls.delete_objects("bob", "k", md5="1B2M2Y8AsgTpgAmY7PhCfg==")
            assert bad.status == 400 and b"BadDigest" in bad.body
        # public-read-write: S3 would delete; a signed foreign write stays 403 (send it unsigned).
        assert (
            await calls.signed("ann", "PUT", "?acl", **{"x-amz-acl": "public-read-write"})
        ).status == 200
        assert (await calls.delete_objects("bob", "k")).status == 403
        assert (await calls.signed("ann", "GET", "/k")).body == b"ann's"

    _run(tmp_path, scenario)


def test_anonymous_delete_in_a_public_read_write_bucket_is_the_owners(tmp_path: Path) -> None:
    async def scenario(calls: Calls) -> None:
        assert (await calls.signed("ann", "PUT", "", **{"x-amz-acl": "public-read"})).status == 200
        assert (await calls.signed("ann", "PUT", "/k", b"ann's")).status == 200
        assert (await calls.anonymous("DELETE", "k"))[0] == 403  # READ grants no delete
        assert (
            await calls.signed("ann", "PUT", "?acl", **{"x-amz-acl": "public-read-write"})
        ).status == 200
        # What WRITE does not grant everyone: a version's delete, bypassing retention.
        assert (await calls.anonymous("DELETE", "k", "versionId=null"))[0] == 403
        bypass = {"x-amz-bypass-governance-retention": "true"}
        assert (await calls.anonymous("DELETE", "k", **bypass))[0] == 403
        assert (await calls.signed("ann", "GET", "/k")).body == b"ann's"
        assert (await calls.anonymous("DELETE", "k"))[0] == 204
        assert (await calls.signed("ann", "GET", "/k")).status == 404
        assert (await calls.anonymous("DELETE", "k"))[0] == 204  # gone already: S3's 204 too
        # ann's quota (one object) was freed: her next object fits.
        assert (await calls.signed("ann", "PUT", "/k2", b"again")).status == 200
        assert (await calls.signed("ann", "PUT", "/k3", b"over")).status == 403

    _run(tmp_path, scenario)
