"""``logging.level: debug`` never writes the upstream's credentials (wave 13, B2).

Before: configure_logging set the root logger to DEBUG, and botocore logged there the body of
the STS AssumeRole answer (the role's SecretAccessKey and SessionToken) and the source
credentials' session token in the request headers, as JSON log lines on stdout.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from s3proxy import logs
from s3proxy.backends.credentials import upstream_credentials
from s3proxy.config.loading import validate_settings

ROLE_SECRET, ROLE_TOKEN = "role-secret-key-0123456789", "role-session-token-0123456789"
SOURCE_SECRET, SOURCE_TOKEN = "container-secret-0123456789", "container-token-0123456789"


def _expiry() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Handler(BaseHTTPRequestHandler):
    """A container credential endpoint (GET) and an STS AssumeRole stub (POST)."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        keys = {"AccessKeyId": "ASIASOURCE", "SecretAccessKey": SOURCE_SECRET}
        self._answer(json.dumps({**keys, "Token": SOURCE_TOKEN, "Expiration": _expiry()}))

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        credentials = (
            f"<AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>{ROLE_SECRET}</SecretAccessKey>"
            f"<SessionToken>{ROLE_TOKEN}</SessionToken><Expiration>{_expiry()}</Expiration>"
        )
        self._answer(
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<AssumeRoleResult><Credentials>{credentials}</Credentials>"
            "<AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:s3proxy</AssumedRoleId>"
            "<Arn>arn:aws:sts::123456789012:assumed-role/storage/s3proxy-main</Arn>"
            "</AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"
        )

    def _answer(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def credential_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url + "/v2/credentials")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    named = {name: logging.getLogger(name).level for name in logs.LIBRARIES_THAT_LOG_SECRETS}
    yield
    root.handlers[:], root.level = handlers, level
    for name, saved in named.items():
        logging.getLogger(name).setLevel(saved)


def test_debug_logging_writes_no_assumed_role_credentials(
    credential_endpoint: str, restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    role = "arn:aws:iam::123456789012:role/storage"
    upstream = {"endpoint": "http://127.0.0.1:1", "assume_role_arn": role}
    tenant = {"keys": [{"access_key": "AKA", "secret_key": "tenant-secret"}]}
    tenant["home"] = {"upstream": "main", "bucket": "data"}
    data = {"upstreams": {"main": upstream}, "tenants": {"a": tenant}}
    data["logging"] = {"level": "debug"}
    settings = validate_settings(data, {}, None, Path.cwd())
    logs.configure_logging(settings)
    assert logging.getLogger("s3proxy").isEnabledFor(logging.DEBUG)  # debug still means debug
    keys = upstream_credentials("main", settings.upstreams["main"])._fetch()  # type: ignore[attr-defined]
    assert (keys.access_key, keys.secret_key) == ("ASIAROLE", ROLE_SECRET)
    logging.getLogger("s3proxy").debug("a debug line of the gateway's own")
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = capsys.readouterr().out
    assert "a debug line of the gateway's own" in written
    for secret in (ROLE_SECRET, ROLE_TOKEN, SOURCE_SECRET, SOURCE_TOKEN):
        assert secret not in written
