"""Listings through the proxy equal a reference S3 listing, on real upstreams, for 1/16/256 shards.

Keys go through the proxy (so they really are hashed and spread over shards); then hypothesis
draws queries — prefix, any-string delimiter, max-keys, start-after — and the listing walked
page by page (V2 with continuation tokens, V1 with markers) must equal the reference computed
in Python over the same keys. Ceph RGW lists in byte order like S3; SeaweedFS lists in
directory-tree order and reads keys as paths, but the ``flat`` key encoding (the default on S3
upstreams) makes its listings byte-ordered and its keys exact too: every lane must pass.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yarl
from aiohttp import ClientSession, web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Proxy, create_upstream_buckets, start_proxy
from tests.unit.test_listing import s3_list

pytestmark = pytest.mark.integration

SPECIAL = [
    "p/q", "p-q", "p0", "p", "P", "p/q/r", "é", "e\u0301", "a b", "a+b", "a~b",
    "dir/sub/x", "dir/sub-x", "dir/sub0", "dir-x", "0", "-", "x" * 200,
]  # fmt: skip


def key_set(seed: int = 7, count: int = 120) -> list[str]:
    """Deterministic tricky keys: shared prefixes, '/' vs '-' vs '0', unicode, deep paths."""
    rng = random.Random(seed)
    parts = ["a", "b", "p", "dir", "é", "z", "0", "a-b", "sub"]
    separators = ["/", "-", "0", "/"]
    keys = set(SPECIAL)
    while len(keys) < count:
        depth = rng.randint(1, 4)
        key = rng.choice(parts)
        for _ in range(depth - 1):
            key += rng.choice(separators) + rng.choice(parts)
        keys.add(key)
    return sorted(keys)


KEYS = key_set()


@pytest.fixture(scope="module", params=["ceph", "seaweedfs", "local"])
def upstream(request: pytest.FixtureRequest) -> tuple[str, Any, Any]:
    server: Any = None  # the local store: no upstream server
    client: Any = None
    if request.param == "ceph":
        server = request.getfixturevalue("ceph_rgw")
        client = request.getfixturevalue("ceph_s3")
    elif request.param == "seaweedfs":
        server = request.getfixturevalue("seaweed")
        client = request.getfixturevalue("upstream_s3")
    if client is not None:
        create_upstream_buckets(client)
    return request.param, server, client


@pytest.fixture(scope="module", params=[1, 16, 256], ids=lambda n: f"shards{n}")
def listed(
    request: pytest.FixtureRequest,
    upstream: tuple[str, Any, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Proxy, str]]:
    name, server, client = upstream
    work: Path = tmp_path_factory.mktemp(f"listing-{name}-{request.param}")
    proxy = start_proxy(server, client, work, layout={"shards": request.param})
    bucket = f"lst-{request.param}"
    s3 = proxy.client("alice")
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"."), KEYS))
    try:
        yield proxy, bucket
    finally:
        proxy.process.stop()


def walk(s3: Any, bucket: str, version: int, prefix: str, delimiter: str | None,
         max_keys: int, start_after: str | None) -> tuple[list[str], list[str]]:  # fmt: skip
    keys: list[str] = []
    prefixes: list[str] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
    if delimiter:
        params["Delimiter"] = delimiter
    if start_after:
        params["StartAfter" if version == 2 else "Marker"] = start_after
    for _ in range(2000):
        page = (s3.list_objects_v2 if version == 2 else s3.list_objects)(**params)
        keys += [item["Key"] for item in page.get("Contents", [])]
        prefixes += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            return keys, prefixes
        if version == 2:
            params["ContinuationToken"] = page["NextContinuationToken"]
        else:
            params["Marker"] = page.get("NextMarker") or keys[-1]
    raise AssertionError("listing did not end")


QUERY_PREFIXES = sorted({key[:n] for key in KEYS for n in (0, 1, 2, 4)})


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    version=st.sampled_from([1, 2]),
    prefix=st.sampled_from(QUERY_PREFIXES),
    delimiter=st.sampled_from([None, "/", "-", "0", "b/", "/sub"]),
    max_keys=st.sampled_from([1, 3, 10, 1000]),
    start_after=st.one_of(st.none(), st.sampled_from(KEYS), st.sampled_from(QUERY_PREFIXES)),
)
@example(version=2, prefix="", delimiter=None, max_keys=1000, start_after=None)
@example(version=1, prefix="p", delimiter="/", max_keys=1, start_after=None)
def test_listing_matches_reference(
    listed: tuple[Proxy, str],
    version: int,
    prefix: str,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None,
) -> None:
    proxy, bucket = listed
    got = walk(proxy.client("alice"), bucket, version, prefix, delimiter, max_keys, start_after)
    expected_keys, expected_prefixes, _ = s3_list(KEYS, prefix, delimiter, start_after, 10**9)
    assert got == (expected_keys, expected_prefixes)


ODD_KEYS = [
    "a/../b", "dots/./x", "..", ".", "nul\x00key", "a//b", "a\\b", "a/b", "//lead", "lead",
    "dir2/", "dir2", "trailing//", "/", "ctrl\x01\x1f", "seg/" + "s" * 300 + "/end",
    "é" * 150, "p/q", "p-q", "p0", "\U0001f600", "\ufffd", "x" * 990,
]  # fmt: skip


@pytest.fixture(scope="module")
def odd(
    upstream: tuple[str, Any, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    name, server, client = upstream
    proxy = start_proxy(server, client, tmp_path_factory.mktemp(f"odd-{name}"))
    s3 = proxy.client("alice")
    if "odd" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="odd")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket="odd", Key=k, Body=k.encode()), ODD_KEYS))
    try:
        yield proxy
    finally:
        proxy.process.stop()


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip(odd: Proxy, key: str) -> None:
    """What SeaweedFS folds, refuses or stores as a directory comes back byte for byte."""
    s3 = odd.client("alice")
    got = s3.get_object(Bucket="odd", Key=key)
    assert got["Body"].read() == key.encode()
    assert s3.head_object(Bucket="odd", Key=key)["ContentLength"] == len(key.encode())


def test_odd_keys_list_byte_exactly(odd: Proxy) -> None:
    """Every key once, in UTF-8 byte order, paged one at a time and whole; with a delimiter,
    the common prefixes S3 would give."""
    s3 = odd.client("alice")
    expected = sorted(ODD_KEYS, key=lambda key: key.encode())
    for max_keys in (1, 7, 1000):
        assert walk(s3, "odd", 2, "", None, max_keys, None) == (expected, [])
    for max_keys in (1, 1000):
        assert walk(s3, "odd", 1, "", None, max_keys, None) == (expected, [])
    keys, prefixes, _ = s3_list(ODD_KEYS, "", "/", None, 10**9)
    assert walk(s3, "odd", 2, "", "/", 2, None) == (keys, prefixes)


@pytest.mark.parametrize("prefix", ["/", "//", "a/", "a//", ".", "dir2/"])
def test_listing_never_leaves_the_prefix(odd: Proxy, prefix: str) -> None:
    """A prefix such as '/' made SeaweedFS answer entries outside it (and the home prefix as a
    common prefix): the client gets exactly the keys under its prefix, nothing upstream."""
    s3 = odd.client("alice")
    keys, prefixes, _ = s3_list(ODD_KEYS, prefix, "/", None, 10**9)
    assert walk(s3, "odd", 2, prefix, "/", 1000, None) == (keys, prefixes)
    assert walk(s3, "odd", 2, prefix, None, 3, None) == (
        s3_list(ODD_KEYS, prefix, None, None, 10**9)[0],
        [],
    )


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@contextmanager
def token_dropper(endpoint: str) -> Iterator[str]:
    """A relay in front of ``endpoint`` that leaves ``NextContinuationToken`` out of every
    ListObjectsV2 answer (``IsTruncated`` stays true), as an upstream was seen to under load.
    Requests go on byte for byte with their Host: the proxy signed the relay's."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def relay(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with state["session"].request(
            request.method,
            yarl.URL(endpoint + request.raw_path, encoded=True),
            headers=headers,
            data=await request.read() if request.can_read_body else None,
            allow_redirects=False,
            auto_decompress=False,
        ) as upstream:
            body = await upstream.read()
            if request.query.get("list-type") == "2":
                body = re.sub(rb"<NextContinuationToken>[^<]*</NextContinuationToken>", b"", body)
            answer = web.StreamResponse(status=upstream.status)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    answer.headers.add(name, value)
            answer.content_length = int(upstream.headers.get("Content-Length", len(body)))
            if request.method != "HEAD":
                answer.content_length = len(body)
            await answer.prepare(request)
            if request.method != "HEAD":
                await answer.write(body)
            await answer.write_eof()
            return answer

    async def start() -> None:
        state["session"] = ClientSession(skip_auto_headers=["Content-Type", "User-Agent"])
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", relay)
        state["runner"] = runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["port"] = runner.addresses[0][1]
        started.set()

    async def stop() -> None:
        await state["runner"].cleanup()
        await state["session"].close()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_upstream_pages_without_a_token_never_end_a_listing_early(
    upstream: tuple[str, Any, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Truncated upstream pages without a NextContinuationToken: every key is still listed
    (a listing that ends early with a 200 makes sync tools delete what it omitted)."""
    name, server, client = upstream
    if server is None:
        pytest.skip("the local store has no upstream pages")
    keys = sorted(f"dir{n % 5}/file-{n:04d}" for n in range(400))
    work: Path = tmp_path_factory.mktemp(f"tokenless-{name}")
    with token_dropper(server.endpoint) as relayed:
        proxy = start_proxy(server, client, work, {"endpoint": relayed}, layout={"shards": 16})
        try:
            s3 = proxy.client("alice")
            s3.create_bucket(Bucket="tokenless")
            # One write first: the root's key encoding is settled before writes run in parallel.
            s3.put_object(Bucket="tokenless", Key=keys[0], Body=b".")
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda k: s3.put_object(Bucket="tokenless", Key=k, Body=b"."), keys))
            assert walk(s3, "tokenless", 2, "", None, 1000, None) == (keys, [])
            assert walk(s3, "tokenless", 2, "", None, 60, None) == (keys, [])
            assert walk(s3, "tokenless", 1, "", "/", 2, None) == (
                [],
                [f"dir{n}/" for n in range(5)],
            )
        finally:
            proxy.process.stop()
