"""Per-tenant slots for expensive operations (s3proxy.expensive), alone and through the app.

The gate itself is s3proxy.limits.Gate (tests/unit/test_limits.py covers its queue); here: what
``held`` adds (no limit outside requests, one slot per request, given back on errors), the
configuration (server default, tenant override, reload), and through the ASGI app in front of a
local store that every expensive operation's call site takes the tenant's slot while ordinary
requests and the other tenant do not.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from prometheus_client import REGISTRY

from s3proxy import expensive
from s3proxy.app import Gateway, S3App
from s3proxy.complete_parse import SLICE_BYTES
from s3proxy.config import Settings
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers import attributes
from s3proxy.limits import Admission, Gate
from tests.support.asgi import call_app
from tests.support.s3http import object_url

HEAVY = ("AKHEAVYTENANT00", "heavy-secret-aaaaaaaaaaaaaaaaa")
LIGHT = ("AKLIGHTTENANT00", "light-secret-bbbbbbbbbbbbbbbbb")
ENDPOINT = "http://127.0.0.1:9000"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- held() ---------------------------------------------------------------------------------


def test_outside_a_request_nothing_is_held() -> None:
    async def scenario() -> None:
        async with expensive.held(), expensive.held_if(True):
            pass

    run(scenario())  # no gate set: no limit, no error


def test_over_the_limit_a_request_waits_then_gets_slowdown() -> None:
    async def scenario() -> S3Error:
        gate = Gate(1, "t", "max_concurrent_expensive")
        expensive.CURRENT.set((gate, 0.05))
        async with expensive.held():
            assert gate.active == 1

            async def other() -> None:  # another request of the tenant: its own context
                expensive.CURRENT.set((gate, 0.05))
                async with expensive.held():
                    pass

            with pytest.raises(S3Error) as caught:
                await asyncio.create_task(other())
        assert gate.active == 0
        return caught.value

    before = _limited("t", "SlowDown")
    error = run(scenario())
    assert (error.code, error.status) == (S3ErrorCode.SlowDown, 503)
    assert error.headers == {"Retry-After": "1"}
    assert _limited("t", "SlowDown") == before + 1


def test_a_waiting_request_runs_when_the_slot_is_given_back() -> None:
    async def scenario() -> list[str]:
        gate = Gate(1, "t", "max_concurrent_expensive")
        expensive.CURRENT.set((gate, 5.0))
        order: list[str] = []
        release = asyncio.Event()

        async def request(name: str, wait: bool) -> None:
            async with expensive.held():
                order.append(f"{name} in")
                if wait:
                    await release.wait()
                order.append(f"{name} out")

        first = asyncio.create_task(request("first", True))
        await asyncio.sleep(0)
        second = asyncio.create_task(request("second", False))
        await asyncio.sleep(0)
        assert order == ["first in"] and gate.active == 1
        release.set()
        await asyncio.gather(first, second)
        assert gate.active == 0
        return order

    assert run(scenario()) == ["first in", "first out", "second in", "second out"]


def test_a_request_takes_one_slot_however_nested_and_gives_it_back_on_error() -> None:
    async def scenario() -> None:
        gate = Gate(1, "t", "max_concurrent_expensive")
        expensive.CURRENT.set((gate, 0.01))
        with pytest.raises(RuntimeError):
            async with expensive.held():
                async with expensive.held():  # a limit of 1: no deadlock on itself
                    assert gate.active == 1
                raise RuntimeError("the listing failed")
        assert gate.active == 0
        assert expensive.CURRENT.get() == (gate, 0.01)  # usable again by the same request
        async with expensive.held_if(False):
            assert gate.active == 0
        async with expensive.held_if(True):
            assert gate.active == 1

    run(scenario())


def test_expensive_limits_are_their_own_and_follow_reloads() -> None:
    async def scenario() -> None:
        admission = Admission({"a": 8, "b": 8}, 1.0, None, {"a": 1, "b": 4})
        gate = admission.expensive["a"]
        assert (gate.limit, gate.name, admission.expensive["b"].limit) == (
            1,
            "max_concurrent_expensive",
            4,
        )
        assert admission.gate("a").name == "max_concurrent_requests"
        await gate.enter(0.01)
        waiter = asyncio.create_task(gate.enter(5.0))
        await asyncio.sleep(0)
        admission.configure({"a": 8, "b": 8}, 1.0, None, {"a": 2, "b": 4})  # a raised limit
        await asyncio.wait_for(waiter, 1)
        assert admission.expensive["a"] is gate and gate.active == 2

    run(scenario())


def test_the_server_default_and_a_tenant_override(tmp_path: Path) -> None:
    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, {"max_concurrent_expensive": 3}))
        try:
            assert gateway.admission.expensive["heavy"].limit == 3
            assert gateway.admission.expensive["light"].limit == 4  # the default
        finally:
            await gateway.close()

    run(scenario())
    with pytest.raises(ValueError):
        _settings(tmp_path, {"max_concurrent_expensive": 0})


# -- through the app ------------------------------------------------------------------------


def _settings(root: Path, limits: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, "limits": {"max_wait": 0.05}},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                name: {
                    "keys": [{"access_key": keys[0], "secret_key": keys[1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                    "limits": limits if name == "heavy" else {},
                }
                for name, keys in (("heavy", HEAVY), ("light", LIGHT))
            },
        }
    )


def _limited(tenant: str, answer: str) -> float:
    labels = {"tenant": tenant, "limit": "max_concurrent_expensive", "answer": answer}
    return REGISTRY.get_sample_value("s3proxy_limited_requests_total", labels) or 0.0


DELETE = b"<Delete><Object><Key>gone</Key></Object></Delete>"
EXPENSIVE = {
    "ListObjectsV2": ("GET", "?list-type=2", b""),
    "ListObjects": ("GET", "", b""),
    "ListObjectVersions": ("GET", "?versions", b""),
    "ListMultipartUploads": ("GET", "?uploads", b""),
    "DeleteObjects": ("POST", "?delete", DELETE),
}


def test_every_expensive_operation_holds_its_tenants_slot(tmp_path: Path) -> None:
    """The heavy tenant's one slot taken: each expensive operation waits ``max_wait`` and gets
    503 SlowDown; its single-object requests and the light tenant's listings are served."""

    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, {"max_concurrent_expensive": 1}))
        app = S3App(gateway)
        bucket = object_url(ENDPOINT, "docs")
        md5 = {"Content-MD5": base64.b64encode(hashlib.md5(DELETE).digest()).decode()}
        try:
            for keys in (HEAVY, LIGHT):
                assert (await call_app(app, "PUT", bucket, keys)).status == 200
            put = await call_app(app, "PUT", object_url(ENDPOINT, "docs", "k"), HEAVY, b"x")
            assert put.status == 200
            slot = gateway.admission.expensive["heavy"]
            await slot.enter(0.01)  # another request of heavy's holds its one slot
            for name, (method, query, body) in EXPENSIVE.items():
                headers = md5 if body else None
                refused = await call_app(app, method, bucket + query, HEAVY, body, headers)
                assert (refused.status, refused.code) == (503, "SlowDown"), name
                assert refused.headers["retry-after"] == "1", name
                served = await call_app(app, method, bucket + query, LIGHT, body, headers)
                assert served.status == 200, (name, served.status, served.code)
            got = await call_app(app, "GET", object_url(ENDPOINT, "docs", "k"), HEAVY)
            assert got.status == 200
            slot.leave()
            for name, (method, query, body) in EXPENSIVE.items():
                headers = md5 if body else None
                served = await call_app(app, method, bucket + query, HEAVY, body, headers)
                assert served.status == 200, (name, served.status, served.code)
            assert slot.active == 0
        finally:
            await gateway.close()

    before = _limited("heavy", "SlowDown")
    run(scenario())
    assert _limited("heavy", "SlowDown") == before + len(EXPENSIVE)


def test_object_parts_heads_wait_for_the_slot_and_a_plain_count_does_not() -> None:
    """GetObjectAttributes' ObjectParts page of a COMPOSITE object sends one HEAD per part:
    with the tenant's slot taken, none is sent and the request gets SlowDown; a page without
    parts (PartsCount alone) needs no slot."""
    heads: list[int] = []

    async def head_object(*args: Any) -> Any:
        heads.append(args[-1])
        raise AssertionError("no HEAD may be sent while the slot is taken")

    ctx: Any = SimpleNamespace(
        request=SimpleNamespace(bucket="docs", key="k"),
        storage=SimpleNamespace(head_object=head_object),
    )

    async def scenario() -> None:
        gate = Gate(1, "t", "max_concurrent_expensive")
        expensive.CURRENT.set((gate, 0.01))
        await gate.enter(0.01)
        plain = await attributes._parts_xml(ctx, '"e-3"', 3, False, 1000, 0)
        assert plain == "<ObjectParts><PartsCount>3</PartsCount></ObjectParts>"
        with pytest.raises(S3Error) as caught:
            await attributes._parts_xml(ctx, '"e-3"', 3, True, 1000, 0)
        assert caught.value.code is S3ErrorCode.SlowDown

    run(scenario())
    assert heads == []


def _complete_body(parts: int) -> bytes:
    items = "".join(
        f'<Part><PartNumber>{n}</PartNumber><ETag>"{n:032x}"</ETag></Part>'
        for n in range(1, parts + 1)
    )
    return f"<CompleteMultipartUpload>{items}</CompleteMultipartUpload>".encode()


def test_a_complete_body_of_many_parts_is_parsed_under_the_slot(tmp_path: Path) -> None:
    """A body over one parse slice (SLICE_BYTES) waits for the slot; a small one does not (it
    gets the store's own answer for parts that were never uploaded)."""

    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, {"max_concurrent_expensive": 1}))
        app = S3App(gateway)
        key = object_url(ENDPOINT, "docs", "big")
        try:
            assert (await call_app(app, "PUT", object_url(ENDPOINT, "docs"), HEAVY)).status == 200
            created = await call_app(app, "POST", key + "?uploads", HEAVY)
            upload = ET.fromstring(created.body).findtext("{*}UploadId")
            assert created.status == 200 and upload
            slot = gateway.admission.expensive["heavy"]
            await slot.enter(0.01)
            url = f"{key}?uploadId={quote(upload, safe='')}"
            big = _complete_body(400)
            assert len(big) > SLICE_BYTES
            refused = await call_app(app, "POST", url, HEAVY, big)
            assert (refused.status, refused.code) == (503, "SlowDown")
            small = await call_app(app, "POST", url, HEAVY, _complete_body(1))
            assert small.code != "SlowDown" and small.status == 400, small.code
            slot.leave()
        finally:
            await gateway.close()

    run(scenario())
