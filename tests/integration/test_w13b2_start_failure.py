"""A port that cannot be bound ends ``serve`` with one line, no tracebacks (wave 13, B2).

Before: in one process (the local store's mode) the S3 server failed to bind while the admin
server was already running; asyncio cancelled the admin server at exit and logged two
"unhandled exception during asyncio.run() shutdown" errors with Hypercorn's lifespan
tracebacks before the one "cannot serve" line the operator needs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import free_port, write_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("engine", ["uvicorn", "hypercorn"])
def test_a_port_in_use_is_one_error_line_and_exit_1(tmp_path: Path, engine: str) -> None:
    held = socket.create_server(("127.0.0.1", 0))
    port = held.getsockname()[1]
    tenant = {"keys": [{"access_key": "AKSTART", "secret_key": "start-secret-key"}]}
    tenant["home"] = {"upstream": "local", "bucket": "objects"}
    settings = {
        "server": {"port": port, "admin_port": free_port(), "engine": engine},
        "upstreams": {"local": {"type": "local", "path": str(tmp_path / "data")}},
        "tenants": {"start": tenant},
    }
    config = write_config(tmp_path / "s3proxy.yaml", settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3PROXY_")}
    command = [sys.executable, "-m", "s3proxy", "serve", "--config", str(config)]
    with held:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    errors = [
        json.loads(line)["message"]
        for line in done.stdout.splitlines()
        if line.startswith("{") and json.loads(line)["level"] in ("error", "critical")
    ]
    assert len(errors) == 1, errors
    assert errors[0].startswith("cannot serve: [Errno 98] Address already in use")
    assert "Traceback" not in done.stdout + done.stderr
