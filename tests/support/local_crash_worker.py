"""A process that drives a LocalStore until it is killed, for tests/integration/test_local_crash.py.

Why a separate process: only a real ``kill -9`` proves that the store is consistent after a
crash at any moment (no Python ``finally`` runs, nothing is flushed). The contents it writes are
verifiable after the fact: every object's body is derived from a version number, and its
metadata names the key, the version and the body's SHA-256.

    python -m tests.support.local_crash_worker ROOT one OPERATION   # one scripted step
    python -m tests.support.local_crash_worker ROOT random SEED     # many steps, one line each

``one`` is run with ``S3PROXY_LOCAL_CRASH_AT`` set, after :func:`prepare` has set the scene.
``random`` prints ``start <op> <key> <arg>`` before and ``done <op> <key> <arg>`` after each
step (flushed), so the parent knows which steps were acknowledged when it kills the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from s3proxy.backends.local import LocalStore
from s3proxy.errors import S3Error
from s3proxy.model import (
    CompletedPart,
    CompleteMultipartInput,
    CopyObjectInput,
    CreateMultipartInput,
    ObjectAttributes,
    PutObjectInput,
    UploadPartInput,
)

BUCKET = "crash"
KEYS = ["k0", "k1", "k2", "k3", "../k4", "dir/k5"]
BIG_PART = hashlib.sha256(b"big part").digest() * (5 * 1024 * 1024 // 32)
"""A 5 MiB first part shared by every two-part upload (a multipart dedup case too)."""


def body_of(version: int) -> bytes:
    """The bytes of version ``version``: depends on the version only, so keys share blobs."""
    seed = hashlib.sha256(f"version {version}".encode()).digest()
    return seed * (1 + (version * 977) % 3000)


def multipart_body(version: int, parts: int) -> bytes:
    return (BIG_PART if parts == 2 else b"") + body_of(version)


def attributes(key: str, version: int, data: bytes, kind: str) -> ObjectAttributes:
    return ObjectAttributes(
        headers={"content-type": "application/octet-stream"},
        metadata={
            "key": key,
            "version": str(version),
            "kind": kind,
            "sha": hashlib.sha256(data).hexdigest(),
        },
    )


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 256 * 1024):
        yield data[start : start + 256 * 1024]


async def put(store: LocalStore, key: str, version: int) -> None:
    data = body_of(version)
    await store.put_object(
        PutObjectInput(BUCKET, key, chunks(data), len(data), attributes(key, version, data, "put"))
    )


async def start_upload(
    store: LocalStore, key: str, version: int, parts: int
) -> tuple[str, list[CompletedPart]]:
    """An upload with its parts sent (plus one extra part Complete will leave out)."""
    data = multipart_body(version, parts)
    kind = f"mp{parts}"
    upload = await store.create_multipart_upload(
        CreateMultipartInput(BUCKET, key, attributes(key, version, data, kind))
    )
    pieces = [BIG_PART, body_of(version)] if parts == 2 else [body_of(version)]
    listed = []
    for number, piece in enumerate(pieces, start=1):
        etag = await store.upload_part(
            UploadPartInput(BUCKET, key, upload, number, chunks(piece), len(piece))
        )
        listed.append(CompletedPart(number, etag))
    extra = body_of(version + 1000)
    await store.upload_part(UploadPartInput(BUCKET, key, upload, 9, chunks(extra), len(extra)))
    return upload, listed


async def complete(store: LocalStore, key: str, upload: str, listed: list[CompletedPart]) -> None:
    await store.complete_multipart_upload(CompleteMultipartInput(BUCKET, key, upload, listed))


async def prepare(root: Path, operation: str) -> str | None:
    """The scene for one ``one OPERATION`` run; an upload id for ``complete``."""
    store = LocalStore("crash", root)
    try:
        await put(store, "k", 1)
        await put(store, "same-as-k", 1)
        await put(store, "other", 2)
        upload, listed = await start_upload(store, "mp", 3, 2)
        await complete(store, "mp", upload, listed)
        if operation == "complete":
            upload, _ = await start_upload(store, "k", 4, 2)
            return upload
        return None
    finally:
        await store.close()


async def one(root: Path, operation: str) -> None:
    """The one step the crash point is in: overwrite ``k`` (its old blob freed), complete an
    upload over ``k``, delete the two-blob multipart object ``mp``, or upload a part."""
    store = LocalStore("crash", root)
    try:
        if operation == "put":
            await store.delete_object(BUCKET, "same-as-k")  # so k's old blob is freed
            await put(store, "k", 5)
        elif operation == "complete":
            page = await store.list_multipart_uploads(BUCKET, "k", None, None, None, 10)
            upload = page.uploads[0].upload_id
            parts = await store.list_parts(BUCKET, "k", upload, 0, 10)
            listed = [CompletedPart(p.part_number, p.etag) for p in parts.parts[:2]]
            await store.delete_object(BUCKET, "same-as-k")
            await complete(store, "k", upload, listed)
        elif operation == "delete":
            await store.delete_object(BUCKET, "mp")
        elif operation == "part":
            await start_upload(store, "k", 6, 1)
        print("finished", flush=True)
    finally:
        await store.close()


async def randomly(root: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = LocalStore("crash", root)
    try:
        for _ in range(10_000):
            operation = rng.choice(["put"] * 5 + ["delete"] * 2 + ["mp"] * 2 + ["copy", "abort"])
            key = rng.choice(KEYS)
            version = rng.randrange(8)
            parts = 2 if rng.random() < 0.25 else 1
            arg = {
                "put": f"{version}/put",
                "mp": f"{version}/mp{parts}",
                "abort": f"{version}/mp{parts}",
                "copy": rng.choice(KEYS),
                "delete": "-",
            }[operation]
            print(f"start {operation} {key} {arg}", flush=True)
            if operation == "put":
                await put(store, key, version)
            elif operation == "delete":
                await store.delete_object(BUCKET, key)
            elif operation in ("mp", "abort"):
                upload, listed = await start_upload(store, key, version, parts)
                if operation == "mp":
                    await complete(store, key, upload, listed)
                elif rng.random() < 0.5:
                    await store.abort_multipart_upload(BUCKET, key, upload)
            elif operation == "copy":
                with contextlib.suppress(S3Error):  # NoSuchKey: the source is absent now
                    await store.copy_object(
                        CopyObjectInput(BUCKET, arg, BUCKET, key, False, ObjectAttributes())
                    )
            print(f"done {operation} {key} {arg}", flush=True)
    finally:
        await store.close()


def main(argv: list[str]) -> None:
    root, mode, arg = Path(argv[0]), argv[1], argv[2]
    if mode == "one":
        asyncio.run(one(root, arg))
    elif mode == "random":
        asyncio.run(randomly(root, int(arg)))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
