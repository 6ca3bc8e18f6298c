"""A scoped key's refusal moves nothing: no body byte read, no upstream request.

The gateway runs in-process in front of an upstream nobody listens on (a closed loopback port):
any upstream request would end in a 5xx, so a 403 proves none was made, and a receive that
records its calls proves the body was never read. Requests the grants allow reach that
upstream and fail there — which shows the refusals are the grants' and not a blanket 403.
"""

from __future__ import annotations

import asyncio

import pytest

from s3proxy.app import Gateway, S3App
from s3proxy.config import Settings
from tests.support.asgi import Answer, call_app, scoped_tenant_settings
from tests.support.s3http import object_url

SCOPED = ("AKSCOPEDREADER", "scoped-secret-aaaaaaaaaaaaaaaa")
WHOLE = ("AKWHOLETENANT", "whole-secret-bbbbbbbbbbbbbbbbb")
ENDPOINT = "http://127.0.0.1:9000"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return scoped_tenant_settings(
        SCOPED,
        [
            {"actions": ["read"], "buckets": ["docs"], "prefixes": ["r/"]},
            {"actions": ["write"], "buckets": ["docs"], "prefixes": ["w/"]},
        ],
        WHOLE,
    )


def call(
    settings: Settings,
    method: str,
    url: str,
    keys: tuple[str, str],
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, str | None, int]:
    """(status, error code, receive calls) of one signed request through the ASGI app."""

    async def run() -> Answer:
        gateway = Gateway(settings)
        try:
            return await call_app(S3App(gateway), method, url, keys, body, headers)
        finally:
            await gateway.close()

    answer = asyncio.run(run())
    return answer.status, answer.code, answer.receives


def test_a_refused_put_reads_no_body_and_calls_no_upstream(settings: Settings) -> None:
    url = object_url(ENDPOINT, "docs", "r/not-writable")
    assert call(settings, "PUT", url, SCOPED, b"x" * 4096) == (403, "AccessDenied", 0)


def test_an_allowed_put_reaches_the_upstream(settings: Settings) -> None:
    status, code, _ = call(settings, "PUT", object_url(ENDPOINT, "docs", "w/a"), SCOPED, b"x")
    assert status >= 500 and code != "AccessDenied"  # the unreachable upstream answered


def test_a_key_without_allow_is_not_scoped(settings: Settings) -> None:
    status, code, _ = call(settings, "PUT", object_url(ENDPOINT, "docs", "r/x"), WHOLE, b"x")
    assert status >= 500 and code != "AccessDenied"


def test_a_copy_from_outside_the_grants_calls_no_upstream(settings: Settings) -> None:
    url = object_url(ENDPOINT, "docs", "w/copy")
    headers = {"x-amz-copy-source": "/docs/secret/x"}
    assert call(settings, "PUT", url, SCOPED, headers=headers) == (403, "AccessDenied", 0)
    headers = {"x-amz-copy-source": "/docs/r/x"}
    status, code, _ = call(settings, "PUT", url, SCOPED, headers=headers)
    assert status >= 500 and code != "AccessDenied"


def test_delete_objects_without_any_delete_grant_reads_no_body(settings: Settings) -> None:
    url = object_url(ENDPOINT, "docs", query="delete")
    body = b"<Delete><Object><Key>w/a</Key></Object></Delete>"
    headers = {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}
    assert call(settings, "POST", url, SCOPED, body, headers) == (403, "AccessDenied", 0)


def test_bucket_creation_and_listing_need_their_actions(settings: Settings) -> None:
    assert call(settings, "PUT", object_url(ENDPOINT, "docs"), SCOPED) == (403, "AccessDenied", 0)
    url = object_url(ENDPOINT, "docs", query="list-type=2&prefix=r%2F")
    assert call(settings, "GET", url, SCOPED)[:2] == (403, "AccessDenied")  # no list action
