"""Start-up edges wave 13 left (wave 14 E): what an operator types either works as the README
says or fails at once, naming what is wrong.

- ``docker run IMAGE --port 9000``: the entrypoint handed the option to ``s3proxy`` without a
  command (a usage error); options without a command are ``serve``'s now, as a bare
  ``docker run IMAGE`` is;
- the "serving S3 on ..." line came before the ports were bound, so a port in use was first
  said to be served, then "cannot serve";
- /readyz gave each upstream 3 s, above a kubelet probe's default 1 s: the budget is now
  ``server.readiness_timeout``, which the Helm chart derives from its probe's timeout;
- ``port: true`` was read as port 1; a region or an upstream bucket name that cannot be signed
  or put in a URL (a '/', a space, '?') was taken, and every request failed later.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from s3proxy.app import Gateway
from s3proxy.config import ConfigError, load_settings
from s3proxy.server import Role, serve_role

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

BASE = {
    "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "http://127.0.0.1:8333",
    "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
    "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
}


def entrypoint(tmp_path: Path, *args: str, config: bool = False) -> str:
    """What the image's entrypoint runs for ``docker run IMAGE args...``: a stand-in
    ``s3proxy`` on the PATH prints its arguments."""
    stub = tmp_path / "bin" / "s3proxy"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text('#!/bin/sh\necho "s3proxy $*"\n')
    stub.chmod(0o755)
    config_file = tmp_path / "config.yaml"
    if config:
        config_file.write_text("{}\n")
    else:
        config_file.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}"}
    env["S3PROXY_CONFIG"] = str(config_file)
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_options_without_a_command_are_serves(tmp_path: Path) -> None:
    assert entrypoint(tmp_path, "--port", "9100") == "s3proxy serve --port 9100"
    config = str(tmp_path / "config.yaml")
    assert entrypoint(tmp_path, "--port", "9100", config=True) == (
        f"s3proxy serve --config {config} --port 9100"
    )
    assert entrypoint(tmp_path) == "s3proxy serve"
    assert entrypoint(tmp_path, "--version") == "s3proxy --version"
    assert entrypoint(tmp_path, "stats", "--data-dir", "x") == "s3proxy stats --data-dir x"
    assert entrypoint(tmp_path, "echo", "a program") == "a program"


def test_a_port_in_use_is_never_said_to_be_served(caplog: pytest.LogCaptureFixture) -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        env = {**BASE, "S3PROXY_SERVER__PORT": str(port), "S3PROXY_SERVER__ADMIN_PORT": "0"}
        settings = load_settings(None, env=env)
        with caplog.at_level(logging.INFO, logger="s3proxy"), pytest.raises(OSError):
            asyncio.run(serve_role(settings, None, Role()))
    assert not [r.message for r in caplog.records if "serving" in r.message]


def config_error(**env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={**BASE, **env})
    return str(caught.value)


@pytest.mark.parametrize("field", ["PORT", "ADMIN_PORT"])
def test_a_port_of_true_or_false_is_refused(field: str) -> None:
    assert "not true or false" in config_error(**{f"S3PROXY_SERVER__{field}": "true"})
    assert load_settings(None, env={**BASE, f"S3PROXY_SERVER__{field}": "9100"})


@pytest.mark.parametrize("region", ["us east 1", "eu/west", "a?b", "-x", ""])
def test_a_region_that_cannot_be_signed_is_refused(region: str) -> None:
    message = config_error(S3PROXY_SERVER__REGION=repr(region))
    assert message.startswith("server.region: ")
    message = config_error(S3PROXY_UPSTREAMS__MAIN__REGION=repr(region))
    assert message.startswith("upstreams.main.region: ")


def test_regions_stores_use_are_taken() -> None:
    for region in ("us-east-1", "eu-central-1", "garage", "default", "US", "fr-par"):
        settings = load_settings(None, env={**BASE, "S3PROXY_SERVER__REGION": region})
        assert settings.server.region == region


@pytest.mark.parametrize("bucket", ["a b", "a?b", "a#b", "a%20b", "..", ".", "a/b"])
def test_an_upstream_bucket_that_is_no_name_is_refused(bucket: str) -> None:
    home = "{upstream: main, bucket: " + repr(bucket) + "}"
    assert "tenants.t1.home.bucket: must be a bucket name" in config_error(
        S3PROXY_TENANTS__T1__HOME=home
    )


def test_upstream_bucket_names_s3_and_older_stores_take() -> None:
    for bucket in ("data", "b", "My_Legacy.Bucket-1", "x" * 255):
        home = "{upstream: main, bucket: " + bucket + "}"
        load_settings(None, env={**BASE, "S3PROXY_TENANTS__T1__HOME": home})


def test_readiness_gives_each_upstream_server_readiness_timeout() -> None:
    """/readyz (and the start-up line) give each upstream bucket ``server.readiness_timeout``
    seconds, which the chart sets below its probe's timeout (tests/deploy/test_w14e_helm.py):
    before, a fixed 3 s, above a kubelet's default 1-s probe."""
    settings = load_settings(None, env={**BASE, "S3PROXY_SERVER__READINESS_TIMEOUT": "0.2"})
    assert settings.server.readiness_timeout == 0.2

    async def main() -> dict[str, tuple[str, str]]:
        gateway = Gateway(settings)

        async def hangs(bucket: str) -> None:
            await asyncio.sleep(30)

        gateway.backends["main"].check_ready = hangs  # type: ignore[method-assign]
        try:
            started = time.monotonic()
            results = await gateway.check_ready()
            assert time.monotonic() - started < 2
            return results
        finally:
            await gateway.close()

    assert asyncio.run(main()) == {"main/data": ("timeout", "no answer within 0.2 s")}
    assert "server.readiness_timeout: " in config_error(S3PROXY_SERVER__READINESS_TIMEOUT="0")
