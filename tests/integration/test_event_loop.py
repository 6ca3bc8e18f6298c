"""server.event_loop end to end: every serving process runs on uvloop by default (one process,
and each forked worker), on asyncio's own loop when configured so, and serves either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.conftest import Proxy, start_proxy
from tests.support.processes import SeaweedFS

pytestmark = pytest.mark.integration
uvloop = pytest.importorskip("uvloop")


def runs_uvloop(pid: int) -> bool:
    """Whether uvloop's compiled loop is loaded in process ``pid``."""
    return "/uvloop/loop." in Path(f"/proc/{pid}/maps").read_text()


def round_trip(proxy: Proxy) -> None:
    client = proxy.client("alice")
    client.put_object(Bucket="docs", Key="loop/one", Body=b"served")
    assert client.get_object(Bucket="docs", Key="loop/one")["Body"].read() == b"served"


@pytest.mark.parametrize(
    ("setting", "loop"), [({}, "uvloop"), ({"event_loop": "asyncio"}, "asyncio")]
)
def test_one_process_runs_the_configured_loop(
    setting: dict[str, Any], loop: str, tmp_path: Path
) -> None:
    proxy = start_proxy(None, None, tmp_path, server=setting)  # the local store: one process
    try:
        round_trip(proxy)
        assert f"event loop: {loop}" in proxy.process.log_text()
        assert runs_uvloop(proxy.process.pid) is (loop == "uvloop")
    finally:
        proxy.process.stop()


def test_every_forked_worker_runs_uvloop(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    proxy = start_proxy(seaweed, upstream_s3, tmp_path, server={"workers": 2})
    try:
        round_trip(proxy)
        children = psutil.Process(proxy.process.pid).children()
        assert len(children) == 3  # two workers and the admin process
        assert all(runs_uvloop(child.pid) for child in children)
    finally:
        proxy.process.stop()
