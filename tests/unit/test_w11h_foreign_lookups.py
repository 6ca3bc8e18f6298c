"""A read of a bucket name the caller does not have asks every other tenant (wave 11 H).

Before answering NoSuchBucket, a signed read looks for another tenant whose ACL might grant it
(s3proxy.granted_reads): one upstream HEAD per other tenant's home, for a name nobody has asked
before. With 20 tenants a GET of a made-up name cost 21 upstream requests, and a tenant could
send such GETs as fast as its request slots allowed. When two or more homes are asked, the
asking now holds one of the caller's expensive-operation slots, as listings do: counted here
through the app in front of a local store, never timed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from s3proxy.app import Gateway, S3App
from s3proxy.backends.local import LocalStore
from s3proxy.config import Settings
from tests.support.asgi import call_app
from tests.support.s3http import object_url

ENDPOINT = "http://127.0.0.1:9000"
KEYS = {
    "heavy": ("AKHEAVYTENANT00", "heavy-secret-aaaaaaaaaaaaaaaaa"),
    "light": ("AKLIGHTTENANT00", "light-secret-bbbbbbbbbbbbbbbbb"),
    "third": ("AKTHIRDTENANT00", "third-secret-ccccccccccccccccc"),
}


def _settings(root: Path, tenants: tuple[str, ...]) -> Settings:
    return Settings.model_validate(
        {
            "server": {"secret": "s" * 32, "limits": {"max_wait": 0.05}},
            "upstreams": {"store": {"type": "local", "path": str(root)}},
            "tenants": {
                name: {
                    "keys": [{"access_key": KEYS[name][0], "secret_key": KEYS[name][1]}],
                    "home": {"upstream": "store", "bucket": "home"},
                    "limits": {"max_concurrent_expensive": 1},
                }
                for name in tenants
            },
        }
    )


def _count_asks(gateway: Gateway, asks: list[str]) -> None:
    """Each HEAD and listing the store answers, by the key or prefix it reads."""
    store = gateway.backends["store"]
    assert isinstance(store, LocalStore)
    head_object, list_objects = store.head_object, store.list_objects

    async def head(bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        asks.append(key)
        return await head_object(bucket, key, *args, **kwargs)

    async def listing(bucket: str, prefix: str, *args: Any, **kwargs: Any) -> Any:
        asks.append(prefix)
        return await list_objects(bucket, prefix, *args, **kwargs)

    store.head_object = head  # type: ignore[method-assign]
    store.list_objects = listing  # type: ignore[method-assign]


def _others(asks: list[str]) -> list[str]:
    """The tenants other than heavy whose homes were asked (``tenant/.buckets/…``)."""
    return sorted(key.split("/", 1)[0] for key in asks if not key.startswith("heavy/"))


def test_asking_other_tenants_about_a_made_up_bucket_holds_the_callers_slot(
    tmp_path: Path,
) -> None:
    """Since wave 11 L the other homes' bucket names are listed (once per cache lifetime,
    s3proxy.bucket_index): the slot is held while two or more are listed; a look-up that lists
    nothing needs none."""

    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, ("heavy", "light", "third")))
        app = S3App(gateway)
        asks: list[str] = []
        _count_asks(gateway, asks)
        made_up = object_url(ENDPOINT, "made-up-name", "k")
        try:
            slot = gateway.admission.expensive["heavy"]
            await slot.enter(0.01)  # another request of heavy's holds its one slot
            refused = await call_app(app, "GET", made_up, KEYS["heavy"])
            assert (refused.status, refused.code) == (503, "SlowDown")
            assert _others(asks) == []  # the others were not asked
            slot.leave()
            answer = await call_app(app, "GET", made_up, KEYS["heavy"])
            assert (answer.status, answer.code) == (404, "NoSuchBucket")
            assert _others(asks) == ["light", "third"]  # each other home: listed once
            await slot.enter(0.01)
            asks.clear()
            again = await call_app(
                app, "GET", object_url(ENDPOINT, "other-name", "k"), KEYS["heavy"]
            )
            assert (again.status, again.code) == (404, "NoSuchBucket")  # nothing to list
            assert _others(asks) == []
            slot.leave()
        finally:
            await gateway.close()

    asyncio.run(scenario())


def test_asking_the_one_other_tenant_is_an_ordinary_request(tmp_path: Path) -> None:
    """With one other home to ask, the read costs one more HEAD, as any request might."""

    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, ("heavy", "light")))
        app = S3App(gateway)
        try:
            await gateway.admission.expensive["heavy"].enter(0.01)
            answer = await call_app(app, "GET", object_url(ENDPOINT, "made-up", "k"), KEYS["heavy"])
            assert (answer.status, answer.code) == (404, "NoSuchBucket")
        finally:
            await gateway.close()

    asyncio.run(scenario())
