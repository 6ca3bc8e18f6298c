"""Object ACL records count only in a bucket whose settings record is flagged (wave 12 I),
counted in process in front of a local store.

:func:`s3proxy.object_acl.bind` flags the bucket before it writes a record, so a record in an
unflagged bucket is one left from an earlier bucket of that name (deleted by a release that did
not remove its records, or cut short): it matched the same bytes written in the same second
and made a private object public. Not reading records there also spares every anonymous or
foreign read of a key in a bucket that never held an object ACL one upstream GET."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from s3proxy.app import Gateway, S3App
from s3proxy.backends.local import LocalStore
from s3proxy.backends.records import write_record
from s3proxy.config import Settings
from tests.support.asgi import call_app
from tests.support.s3http import object_url

ENDPOINT = "http://127.0.0.1:9000"
ANN = ("AKANNOWNER000000000", "ann-secret-" + "s" * 24)
BOB = ("AKBOBREADER00000000", "bob-secret-" + "s" * 24)


def _settings(root: Path) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                name: {
                    "keys": [{"access_key": keys[0], "secret_key": keys[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                }
                for name, keys in (("ann", ANN), ("bob", BOB))
            },
        }
    )


async def _unsigned_get(app: S3App, path: str) -> int:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:9000")],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


def test_a_record_in_an_unflagged_bucket_grants_nothing_and_is_not_read(tmp_path: Path) -> None:
    async def main() -> None:
        gateway = Gateway(_settings(tmp_path))
        app = S3App(gateway)
        store = gateway.backends["store"]
        assert isinstance(store, LocalStore)
        try:
            assert (await call_app(app, "PUT", f"{ENDPOINT}/site", ANN)).status == 200
            url = object_url(ENDPOINT, "site", "k")
            assert (await call_app(app, "PUT", url, ANN, b"same bytes")).status == 200
            head = await call_app(app, "HEAD", url, ANN)
            # A record bound to this very object, as an earlier bucket "site" left it.
            digest = hashlib.sha256(b"k").hexdigest()
            body = {"acl": "public-read", "etag": head.headers["etag"]}
            body["last_modified"] = head.headers["last-modified"]
            record = f"ann/.buckets/.acls/site/{digest}"
            await write_record(store, "home", record, json.dumps(body).encode())
            reads: list[str] = []
            get_object = store.get_object

            async def counted(bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
                reads.append(key)
                return await get_object(bucket, key, *args, **kwargs)

            store.get_object = counted  # type: ignore[method-assign]
            assert await _unsigned_get(app, "/site/k") == 403  # was 200: served as public-read
            assert (await call_app(app, "GET", url, BOB)).status == 404  # NoSuchBucket, as before
            acl = await call_app(app, "GET", url + "?acl", ANN)
            assert acl.status == 200 and b"AllUsers" not in acl.body
            assert [key for key in reads if "/.acls/" in key] == []  # no record read at all
            # Made public now: the bucket is flagged, and that record counts.
            public = {"x-amz-acl": "public-read"}
            assert (await call_app(app, "PUT", url + "?acl", ANN, headers=public)).status == 200
            assert await _unsigned_get(app, "/site/k") == 200
        finally:
            await gateway.close()

    asyncio.run(main())
