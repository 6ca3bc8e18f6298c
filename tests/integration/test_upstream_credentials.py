"""Upstream credentials from the AWS chain, end to end: a proxy with no upstream keys in its
configuration, in front of a real SeaweedFS that knows several identities.

The proxy's only source of keys is a container credential endpoint on loopback, served by the
test (``AWS_CONTAINER_CREDENTIALS_FULL_URI``, as ECS and EKS pod identity set it), which rotates
the keys it hands out. Each key's expiry lies inside botocore's 15-minute refresh window, so the
proxy refreshes ahead of every request it can, off its event loop. The identities differ in what
SeaweedFS lets them do — ``ro`` may only read — so which key the proxy signs with is visible to a
client: a PUT is refused exactly while the endpoint hands out ``ro``, and every GET succeeds
across all the switches.

SeaweedFS refuses a session token on its static identities (it takes one for an STS session), so
the endpoint hands out an empty token here; the ``x-amz-security-token`` header that a real
token produces is covered in tests/unit/test_upstream_credentials.py against a scripted upstream.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import client_for
from tests.support.processes import ProxyProcess, SeaweedFS, free_port, write_config

pytestmark = pytest.mark.integration

ADMIN = ("seaweedadmin", "seaweedadmin-secret-key")
HOME = "s3p-creds-home"
TENANT = ("AKCREDS000000000001", "creds-tenant-secret-key-0123")
AUTH_TOKEN = "container-authorization-token"
ROLE = "arn:aws:iam::123456789012:role/storage"
SECRETS = {"rw1": "rw1-secret-key", "ro": "ro-secret-key", "rw2": "rw2-secret-key"}
DEADLINE = 20.0


class CredentialEndpoint:
    """A container credential endpoint and an STS AssumeRole stub on one loopback port."""

    def __init__(self) -> None:
        self.key = "rw1"
        self.served: list[str] = []
        self.auth_headers: set[str] = set()
        self.assume_calls: list[tuple[str, str]] = []
        """(RoleArn, the access key that signed the AssumeRole call)"""
        self.sts_key = "rw1"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> CredentialEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                endpoint.auth_headers.add(self.headers.get("Authorization", ""))
                key = endpoint.key
                endpoint.served.append(key)
                self._answer("application/json", json.dumps(_container_credentials(key)))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                form = parse_qs(body.decode())
                signer = self.headers.get("Authorization", "").partition("Credential=")[2]
                endpoint.assume_calls.append((form["RoleArn"][0], signer.partition("/")[0]))
                self._answer("text/xml", _assume_role_result(endpoint.sts_key))

            def _answer(self, content_type: str, text: str) -> None:
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _expiry() -> str:
    """12 minutes ahead: inside botocore's advisory refresh window, outside its mandatory one."""
    return (datetime.now(UTC) + timedelta(minutes=12)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _container_credentials(key: str) -> dict[str, str]:
    return {
        "AccessKeyId": key,
        "SecretAccessKey": SECRETS.get(key, "unknown"),
        "Token": "",
        "Expiration": _expiry(),
    }


def _assume_role_result(key: str) -> str:
    return (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<AssumeRoleResult><Credentials>"
        f"<AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{SECRETS[key]}</SecretAccessKey>"
        f"<SessionToken></SessionToken><Expiration>{_expiry()}</Expiration>"
        "</Credentials><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:s3proxy</AssumedRoleId>"
        "<Arn>arn:aws:sts::123456789012:assumed-role/storage/s3proxy-main</Arn>"
        "</AssumedRoleUser></AssumeRoleResult>"
        "<ResponseMetadata><RequestId>c2</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )


def _identity(name: str, actions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "credentials": [{"accessKey": name, "secretKey": SECRETS[name]}],
        "actions": actions,
    }


@pytest.fixture(scope="module")
def seaweed_identities(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    root = tmp_path_factory.mktemp("creds-seaweed")
    full = [f"{action}:{HOME}" for action in ("Read", "Write", "List", "Tagging")]
    config = {
        "identities": [
            {
                "name": "admin",
                "credentials": [{"accessKey": ADMIN[0], "secretKey": ADMIN[1]}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            _identity("rw1", full),
            _identity("rw2", full),
            _identity("ro", [f"Read:{HOME}", f"List:{HOME}"]),
        ]
    }
    path = root / "s3.json"
    path.write_text(json.dumps(config))
    with SeaweedFS.start(root / "data", *ADMIN, extra_args=[f"-s3.config={path}"]) as server:
        server.client().create_bucket(Bucket=HOME)
        yield server


def _chain_env(endpoint: CredentialEndpoint, workdir: Path) -> dict[str, str]:
    """This process's environment without any AWS credentials, plus the container endpoint."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONTAINER_CREDENTIALS_FULL_URI=endpoint.url + "/v2/credentials",
        AWS_CONTAINER_AUTHORIZATION_TOKEN=AUTH_TOKEN,
        AWS_ENDPOINT_URL_STS=endpoint.url,
    )
    return env


def _start(
    seaweed: SeaweedFS, endpoint: CredentialEndpoint, workdir: Path, **upstream: Any
) -> tuple[ProxyProcess, Any]:
    """A proxy (two workers) whose upstream has no keys, and a tenant client on it."""
    port, admin_port = free_port(), free_port()
    settings = {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "admin_port": admin_port,
            "secret": "credentials-test-server-secret-0123456789",
            "workers": 2,
        },
        # No access_key / secret_key: the AWS credential chain.
        "upstreams": {"main": {"endpoint": seaweed.endpoint, "path_style": True, **upstream}},
        "tenants": {
            "creds": {
                "keys": [{"access_key": TENANT[0], "secret_key": TENANT[1]}],
                "home": {"upstream": "main", "bucket": HOME, "prefix": f"{workdir.name}/"},
            }
        },
    }
    config = write_config(workdir / "s3proxy.yaml", settings)
    process = ProxyProcess.start(
        config,
        admin_port=admin_port,
        log_path=workdir / "proxy.log",
        env=_chain_env(endpoint, workdir),
    )
    return process, client_for(f"http://127.0.0.1:{port}", *TENANT)


def _put_allowed(client: Any, key: str) -> bool:
    try:
        client.put_object(Bucket="data", Key=key, Body=b"new")
    except ClientError as error:
        # the upstream refused the gateway's own request: the operator's to fix, not the client's
        assert error.response["Error"]["Code"] == "InternalError"
        return False
    return True


def _until_put(client: Any, allowed: bool, gets: list[bytes]) -> None:
    """GET (must succeed) and PUT until the PUT's outcome is ``allowed``, within DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    attempt = 0
    while True:
        gets.append(client.get_object(Bucket="data", Key="stable")["Body"].read())
        attempt += 1
        if _put_allowed(client, f"attempt-{attempt}") is allowed:
            return
        outcome = "allowed" if allowed else "refused"
        assert time.monotonic() < deadline, f"PUT never became {outcome}"


def test_rotating_container_credentials_are_used_and_refreshed(
    seaweed_identities: SeaweedFS, tmp_path: Path
) -> None:
    with CredentialEndpoint() as endpoint:
        process, client = _start(seaweed_identities, endpoint, tmp_path)
        try:
            client.create_bucket(Bucket="data")
            client.put_object(Bucket="data", Key="stable", Body=b"stable")
            gets: list[bytes] = []

            endpoint.key = "ro"
            _until_put(client, allowed=False, gets=gets)  # the proxy now signs with "ro"
            endpoint.key = "rw2"
            _until_put(client, allowed=True, gets=gets)  # and now with "rw2"
            for _ in range(20):  # steady state after the switch: every request succeeds
                assert _put_allowed(client, "after")
                gets.append(client.get_object(Bucket="data", Key="stable")["Body"].read())
        finally:
            process.stop()
    assert gets and set(gets) == {b"stable"}  # no GET failed at any switch
    assert {"rw1", "ro", "rw2"} <= set(endpoint.served)
    assert endpoint.auth_headers == {AUTH_TOKEN}
    log = process.log_text()
    assert "credentials from the AWS chain (container-role)" in log
    assert "seaweedadmin" not in log


def test_assume_role_arn_signs_with_the_role_s_keys(
    seaweed_identities: SeaweedFS, tmp_path: Path
) -> None:
    """The container keys (unknown to SeaweedFS) only sign the AssumeRole call; the upstream
    requests are signed with the role's keys, and the role's keys rotate too."""
    with CredentialEndpoint() as endpoint:
        endpoint.key = "container-only"
        endpoint.sts_key = "rw1"
        process, client = _start(seaweed_identities, endpoint, tmp_path, assume_role_arn=ROLE)
        try:
            client.create_bucket(Bucket="data")
            client.put_object(Bucket="data", Key="stable", Body=b"stable")
            gets: list[bytes] = []
            endpoint.sts_key = "ro"
            _until_put(client, allowed=False, gets=gets)
            endpoint.sts_key = "rw2"
            _until_put(client, allowed=True, gets=gets)
        finally:
            process.stop()
    assert set(gets) == {b"stable"}
    assert endpoint.assume_calls
    assert set(endpoint.assume_calls) == {(ROLE, "container-only")}
