"""A reload applies ``server.body_idle_timeout`` to answers as well as to request bodies (wave 18,
E2), on both engines.

The setting bounds both ways (README, "Slow and idle bodies"): a request body that sends nothing
for that long, and an answer whose client reads none of it for that long. A reload applied it to
request bodies only (read at each request); the engines kept the answers' value of the start
(the uvicorn protocol class, Hypercorn's config), so an operator who lowered it to free slots
held by stalled downloads saw no change until a restart, with no warning saying so.

Here the proxy starts with an hour and is reloaded to one second: a download whose client reads
nothing must then be dropped (logged 499). Nothing is timed: the test waits for the drop (up to
tests/support/waiting's 60 s), which the hour of the start would never give.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import start_proxy
from tests.integration.test_engine import ENGINES, signed_head
from tests.integration.test_logs import access_lines
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

STARTED_WITH = 3600.0
"""The proxy's body_idle_timeout at its start: far past any wait of the test."""
RELOADED_TO = 1.0
BIG = 24 * 1024 * 1024
"""Larger than what the kernel's socket buffers take in while the client reads nothing (~6 MiB
on loopback): the proxy's writes must stall (as tests/integration/test_w12h_slow_clients)."""
TIMEOUT = 30


@pytest.mark.parametrize("engine", ENGINES)
def test_a_reload_applies_body_idle_timeout_to_answers(tmp_path: Path, engine: str) -> None:
    server = {"engine": engine, "workers": 1, "body_idle_timeout": STARTED_WITH}
    proxy = start_proxy(None, None, tmp_path, server=server)
    try:
        proxy.client("alice").put_object(Bucket="docs", Key="w18e2/big", Body=b"x" * BIG)
        settings = yaml.safe_load(proxy.config_path.read_text())
        settings["server"]["body_idle_timeout"] = RELOADED_TO
        proxy.config_path.write_text(yaml.safe_dump(settings))
        log = proxy.process.reload_and_wait("configuration reloaded")
        assert "needs a restart" not in log
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.settimeout(TIMEOUT)
        with stalled:
            stalled.connect(("127.0.0.1", proxy.port))
            stalled.sendall(signed_head(proxy, "GET", "w18e2/big", {}))
            line = wait_for(
                lambda: access_lines(proxy.process, operation="GetObject", key="w18e2/big"),
                "the stalled GET was not dropped at the reloaded timeout",
            )
            received = 0
            try:
                while chunk := stalled.recv(1 << 20):
                    received += len(chunk)
            except ConnectionResetError:
                pass  # the abort, once what the kernel held was read
        assert (line[0]["status"], line[0]["error"]) == (499, "ClientDisconnected")
        assert received < BIG
    finally:
        proxy.process.stop()
