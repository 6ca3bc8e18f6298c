"""Copies out of another tenant's private bucket whose source object alone is granted
(wave 14 C), in process on the local store.

S3 copies an object the caller may read by its own ACL (``public-read``,
``authenticated-read``) wherever its bucket is; the gateway answered NoSuchBucket. Now it copies
it, through the gateway, only as the very object the ACL was set on: an object replaced since
(even by the same bytes) is refused as a GET of it is. Both tenants share one local store, where
a copy would otherwise be server-side and never show which object it copied."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from s3proxy.app import Gateway, S3App
from tests.support.asgi import Answer, call_app, local_tenants_settings, own_context, tenant_keys
from tests.support.s3http import object_url

ENDPOINT = "http://127.0.0.1:9000"
SOURCE = "ann-private"
MINE = "bob-own"


class Calls:
    def __init__(self, app: S3App) -> None:
        self.app = app

    async def send(
        self, who: str, method: str, bucket: str, key: str | None = None, query: str = "",
        body: bytes = b"", **headers: str,
    ) -> Answer:  # fmt: skip
        url = object_url(ENDPOINT, bucket, key) if key else f"{ENDPOINT}/{bucket}"
        url += f"?{query}" if query else ""
        keys = tenant_keys(who, "OBJCOPY000")
        return await own_context(call_app(self.app, method, url, keys, body, headers))

    async def copy(self, source: str, target: str = "copied", **headers: str) -> Answer:
        return await self.send(
            "bob", "PUT", MINE, target, **{"x-amz-copy-source": source}, **headers
        )


def _run(root: Path, scenario: Callable[[Calls], Awaitable[None]]) -> None:
    async def main() -> None:
        gateway = Gateway(local_tenants_settings(str(root), ("ann", "bob"), "OBJCOPY000"))
        try:
            await scenario(Calls(S3App(gateway)))
        finally:
            await gateway.close()

    asyncio.run(main())


async def _setup(calls: Calls) -> None:
    assert (await calls.send("ann", "PUT", SOURCE)).status == 200
    public = {"x-amz-acl": "public-read", "content-type": "text/x-ann"}
    granted = await calls.send("ann", "PUT", SOURCE, "pub", body=b"granted bytes", **public)
    assert granted.status == 200
    signed = {"x-amz-acl": "authenticated-read"}
    assert (
        await calls.send("ann", "PUT", SOURCE, "auth", body=b"for tenants", **signed)
    ).status == 200
    assert (await calls.send("ann", "PUT", SOURCE, "private", body=b"ann only")).status == 200
    assert (await calls.send("bob", "PUT", MINE)).status == 200


def test_an_object_granted_by_its_own_acl_is_copied(tmp_path: Path) -> None:
    async def scenario(calls: Calls) -> None:
        await _setup(calls)
        answer = await calls.copy(f"/{SOURCE}/pub")
        assert answer.status == 200, answer.body
        got = await calls.send("bob", "GET", MINE, "copied")
        assert got.body == b"granted bytes" and got.headers["content-type"] == "text/x-ann"
        assert (await calls.copy(f"/{SOURCE}/auth", "second")).status == 200
        assert (await calls.send("bob", "GET", MINE, "second")).body == b"for tenants"
        # Its neighbours are not granted: the caller's own answer, nothing learnt.
        refused = await calls.copy(f"/{SOURCE}/private", "third")
        assert refused.status == 404 and b"NoSuchBucket" in refused.body
        assert (await calls.send("bob", "GET", MINE, "third")).status == 404
        # The client's own copy conditions are decided as for any copy.
        etag = got.headers["etag"]
        failed = await calls.copy(
            f"/{SOURCE}/pub", "fourth", **{"x-amz-copy-source-if-none-match": etag}
        )
        assert failed.status == 412
        # UploadPartCopy too.
        created = await calls.send("bob", "POST", MINE, "multi", "uploads")
        upload = re.search(rb"<UploadId>(.*?)</UploadId>", created.body)
        assert upload is not None
        upload_id = upload.group(1).decode()
        part = await calls.send(
            "bob", "PUT", MINE, "multi", f"partNumber=1&uploadId={upload_id}",
            **{"x-amz-copy-source": f"/{SOURCE}/pub", "x-amz-copy-source-range": "bytes=0-6"},
        )  # fmt: skip
        assert part.status == 200, part.body
        found = re.search(rb"<ETag>(.*?)</ETag>", part.body)
        assert found is not None
        complete = (
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
            f"<ETag>{found.group(1).decode()}</ETag></Part></CompleteMultipartUpload>"
        ).encode()
        done = await calls.send("bob", "POST", MINE, "multi", f"uploadId={upload_id}", complete)
        assert done.status == 200, done.body
        assert (await calls.send("bob", "GET", MINE, "multi")).body == b"granted"
        # Overwritten without an ACL, the key is private again: so is its copy.
        assert (await calls.send("ann", "PUT", SOURCE, "pub", body=b"now private")).status == 200
        assert (await calls.copy(f"/{SOURCE}/pub", "fifth")).status == 404
        assert (await calls.send("bob", "GET", MINE, "fifth")).status == 404

    _run(tmp_path, scenario)


def test_a_copy_reads_only_the_very_object_granted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object changes between the grant's check and the copy (here: its record names the
    same bytes written at another time, as an overwrite by identical bytes with new metadata
    would be): refused, never copied server-side under the old grant."""
    from s3proxy import name_claims

    real = name_claims.object_acl.granting

    async def granting(*args: Any) -> Any:
        record = await real(*args)
        if record is None:
            return None
        return dataclasses.replace(record, last_modified="Mon, 01 Jan 2001 00:00:00 GMT")

    async def scenario(calls: Calls) -> None:
        await _setup(calls)
        monkeypatch.setattr(name_claims.object_acl, "granting", granting)
        etag = {
            "x-amz-copy-source-if-match": (await calls.send("ann", "HEAD", SOURCE, "pub")).headers[
                "etag"
            ]
        }
        for headers in ({}, etag):
            refused = await calls.copy(f"/{SOURCE}/pub", **headers)
            assert refused.status == 404 and b"NoSuchBucket" in refused.body, refused.body
        assert (await calls.send("bob", "GET", MINE, "copied")).status == 404

    _run(tmp_path, scenario)
