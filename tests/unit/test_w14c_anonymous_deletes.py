"""Anonymous DeleteObjects in a ``public-read-write`` bucket (wave 14 C), in process on the
local store.

S3's WRITE grant gives everyone s3:DeleteObject, and a DeleteObjects is judged entry by entry:
anonymous DeleteObject there was carried out (wave 13 C2) while DeleteObjects stayed a
whole-request 403. It is now the owner's own DeleteObjects: each key deleted, the owner's quota
freed, and an entry naming a version (s3:DeleteObjectVersion, which no ACL grants everyone)
answered AccessDenied and kept. In a ``public-read`` bucket it is S3's 200 naming AccessDenied
for every key (a whole-request 403 before)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from s3proxy.app import S3App
from tests.support.asgi import http_scope, own_context
from tests.unit.test_w13c2_foreign_deletes import NAME, Calls, _run


async def _anonymous_delete(
    app: S3App, body: bytes, md5: bool = True, **headers: str
) -> tuple[int, bytes]:
    if md5:
        headers["content-md5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    headers["content-length"] = str(len(body))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("POST", f"/{NAME}", "delete", headers)
    await own_context(app(scope, receive, send))
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(sent[0]["status"]), answer


def _delete(*entries: str) -> bytes:
    return f"<Delete>{''.join(entries)}</Delete>".encode()


def test_anonymous_delete_objects_in_a_public_read_write_bucket(tmp_path: Path) -> None:
    async def scenario(calls: Calls) -> None:
        app = calls.app
        assert (await calls.signed("ann", "PUT", "", **{"x-amz-acl": "public-read"})).status == 200
        assert (await calls.signed("ann", "PUT", "/k", b"ann's")).status == 200
        plain = _delete("<Object><Key>k</Key></Object>")
        # READ grants no delete: S3's 200 naming AccessDenied for the key (a 403 before).
        status, body = await _anonymous_delete(app, plain)
        assert (status, body.count(b"<Code>AccessDenied</Code>")) == (200, 1), body
        assert (await calls.signed("ann", "GET", "/k")).body == b"ann's"
        assert (await _anonymous_delete(app, plain, md5=False))[0] == 400  # checked first
        rw = {"x-amz-acl": "public-read-write"}
        assert (await calls.signed("ann", "PUT", "?acl", **rw)).status == 200
        bypass = {"x-amz-bypass-governance-retention": "true"}
        assert (await _anonymous_delete(app, plain, **bypass))[0] == 403
        assert (await _anonymous_delete(app, plain, md5=False))[0] == 400  # as for anyone
        # A version's delete is not everyone's: that entry is AccessDenied, the key kept.
        versioned = "<Object><Key>k</Key><VersionId>null</VersionId></Object>"
        missing = "<Object><Key>missing</Key></Object>"
        status, body = await _anonymous_delete(app, _delete(versioned, missing))
        assert status == 200, body
        assert body.count(b"<Code>AccessDenied</Code>") == 1
        assert b"<Deleted><Key>missing</Key>" in body
        assert (await calls.signed("ann", "GET", "/k")).body == b"ann's"
        status, body = await _anonymous_delete(app, plain)
        assert (status, body.count(b"<Deleted><Key>k</Key>")) == (200, 1), body
        assert (await calls.signed("ann", "GET", "/k")).status == 404
        # ann's quota (one object) was freed: her next object fits, the one after does not.
        assert (await calls.signed("ann", "PUT", "/k2", b"again")).status == 200
        assert (await calls.signed("ann", "PUT", "/k3", b"over")).status == 403
        # A signed DeleteObjects by another tenant there stays 403: send it unsigned.
        assert (await calls.delete_objects("bob", "k2")).status == 403
        assert (await calls.signed("ann", "GET", "/k2")).body == b"again"

    _run(tmp_path, scenario)
