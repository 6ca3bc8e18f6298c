"""Review reproduction (wave 17 R4): a worker started after a SIGHUP reload runs the
configuration the server started with (s3proxy.supervisor; older than wave 17, in the code
b8db6e6 rewrote).

SIGHUP reloads the configuration in every running process, and since b8db6e6 the supervisor
loads and checks the file itself, but it never keeps what it loaded: ``Supervisor.settings``
stays the settings of the start, and a worker it starts later (a dead worker's replacement,
``_child``: ``settings = supervisor.settings``) serves those. So an access key an operator
removed and reloaded away is accepted again by any worker replaced since (an OOM kill, a
crash), until the next SIGHUP. Here the key is removed and the reload answered by every process
(alice gets 403 InvalidAccessKeyId); then its processes die and are replaced: alice's removed
key works again."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.integration.conftest import client_for, start_proxy
from tests.support.processes import SeaweedFS
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
WORKERS = 2


def _children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _refused(client: Any) -> str | None:
    try:
        client.list_buckets()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_a_replacement_worker_serves_the_reloaded_configuration(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    proxy = start_proxy(seaweed, upstream_s3, tmp_path, server={"workers": WORKERS})
    try:
        alice = client_for(proxy.endpoint, *proxy.keys("alice"))
        assert _refused(alice) is None
        settings = yaml.safe_load(proxy.config_path.read_text())
        settings["tenants"]["alice"]["keys"] = [
            {"access_key": "AKALICENEW0000000009", "secret_key": "alice-new-secret-" + "n" * 20}
        ]  # the old key leaked: replaced
        proxy.config_path.write_text(yaml.safe_dump(settings))
        proxy.process.reload_and_wait("configuration reloaded", count=WORKERS + 1)
        for _ in range(8):  # every worker refuses it now
            assert _refused(client_for(proxy.endpoint, *proxy.keys("alice"))) == (
                "InvalidAccessKeyId"
            )
        parent = proxy.process.pid
        first = _children(parent)
        for pid in first:  # its processes die (an OOM kill) and are replaced
            os.kill(pid, signal.SIGKILL)

        def replaced() -> bool:
            """Every dead worker has a replacement that started serving (its memory line):
            the listening socket is the supervisor's, so a connection made before one accepts
            waits for it in the backlog, where a timed sleep hoped to be long enough."""
            log = proxy.process.log_text()
            fresh = _children(parent) - first
            return sum(f"memory: worker process {pid}:" in log for pid in fresh) >= WORKERS

        wait_for(replaced, "the dead workers were not replaced")
        answers = [_refused(client_for(proxy.endpoint, *proxy.keys("alice"))) for _ in range(8)]
        assert answers == ["InvalidAccessKeyId"] * 8, "a removed key is accepted again"
    finally:
        if proxy.process.returncode is None:
            proxy.process.stop()
