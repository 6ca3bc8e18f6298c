"""The upstream quick start's bucket check and creation are bounded in time (wave 15 E).

``s3proxy serve --upstream URL --upstream-bucket NAME`` checks its bucket (and creates it when
missing) before serving. Against an upstream that accepts connections and never answers, the
check waited for the upstream's read_timeout (300 s) and more: start-up hung with nothing
printed and no admin port to ask. The check now has quick_start.CHECK_SECONDS and the creation
quick_start.CREATE_SECONDS; the quick start says what happened and serves.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from s3proxy import quick_start
from s3proxy.backends.base import NotReady
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import Settings
from s3proxy.config.loading import quick_start_settings

ENV = {
    "S3PROXY_UPSTREAM_ACCESS_KEY": "upstream-ak",
    "S3PROXY_UPSTREAM_SECRET_KEY": "upstream-sk-123",
    "S3PROXY_ACCESS_KEY": "AKQUICKSTART00000001",
    "S3PROXY_SECRET_KEY": "quick-start-secret-key-0123",
}
BOUND = 20.0
"""Far above the budgets the tests give, far below the 300 s the old start-up waited."""


@pytest.fixture
def silent_upstream() -> Iterator[str]:
    """An endpoint whose connections are taken (the listen backlog) and never answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(autouse=True)
def short_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quick_start, "CHECK_SECONDS", 0.3, raising=False)
    monkeypatch.setattr(quick_start, "CREATE_SECONDS", 0.2, raising=False)


def settings_for(endpoint: str) -> Settings:
    return quick_start_settings(endpoint, "data", ENV)


def ensure(settings: Settings) -> list[str]:
    return asyncio.run(asyncio.wait_for(quick_start.ensure_upstream_buckets(settings), BOUND))


def test_a_silent_upstream_is_reported_in_bounded_time(silent_upstream: str) -> None:
    lines = ensure(settings_for(silent_upstream))
    assert lines == ["upstream bucket data cannot be checked (no answer within 0.3 s); not created"]


def test_a_creation_without_an_answer_is_reported(
    silent_upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def missing(self: S3Upstream, bucket: str) -> None:
        raise NotReady("NoSuchBucket")

    async def never(self: S3Upstream, bucket: str) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(S3Upstream, "check_ready", missing)
    monkeypatch.setattr(S3Upstream, "create_bucket", never)
    [line] = ensure(settings_for(silent_upstream))
    assert line.startswith("upstream bucket data does not exist and its creation had no answer")
