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


def _count_heads(gateway: Gateway, heads: list[str]) -> None:
    store = gateway.backends["store"]
    assert isinstance(store, LocalStore)
    head_object = store.head_object

    async def counted(bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        heads.append(key)
        return await head_object(bucket, key, *args, **kwargs)

    store.head_object = counted  # type: ignore[method-assign]


def _others(heads: list[str]) -> list[str]:
    """The tenants other than heavy whose homes were asked (a marker is ``tenant/.buckets/B``)."""
    return sorted(key.split("/", 1)[0] for key in heads if not key.startswith("heavy/"))


def test_asking_other_tenants_about_a_made_up_bucket_holds_the_callers_slot(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, ("heavy", "light", "third")))
        app = S3App(gateway)
        heads: list[str] = []
        _count_heads(gateway, heads)
        made_up = object_url(ENDPOINT, "made-up-name", "k")
        try:
            answer = await call_app(app, "GET", made_up, KEYS["heavy"])
            assert (answer.status, answer.code) == (404, "NoSuchBucket")
            assert _others(heads) == ["light", "third"]  # each other home: one HEAD
            slot = gateway.admission.expensive["heavy"]
            await slot.enter(0.01)  # another request of heavy's holds its one slot
            heads.clear()
            refused = await call_app(
                app, "GET", object_url(ENDPOINT, "other-name", "k"), KEYS["heavy"]
            )
            assert (refused.status, refused.code) == (503, "SlowDown")
            assert _others(heads) == []  # the others were not asked
            served = await call_app(app, "GET", made_up, KEYS["light"])
            assert (served.status, served.code) == (404, "NoSuchBucket")  # light's slot is free
            slot.leave()
            again = await call_app(
                app, "GET", object_url(ENDPOINT, "other-name", "k"), KEYS["heavy"]
            )
            assert (again.status, again.code) == (404, "NoSuchBucket")
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
