"""What wave 16's E noticed while operating the gateway (wave 16, E2).

A SIGHUP reload builds every tenant a new bucket registry: the creation gate that orders a
tenant's CreateBuckets against its bucket cap (s3proxy.backends.buckets) is carried over, so a
creation in flight across a reload still takes turns with those after it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from s3proxy.config import ConfigError, load_settings
from s3proxy.errors import S3Error
from s3proxy.gateway import Gateway
from s3proxy.open_files import server_bounds


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "S3PROXY_UPSTREAMS__MAIN__TYPE": "local",
        "S3PROXY_UPSTREAMS__MAIN__PATH": str(tmp_path / "data"),
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
        "S3PROXY_SERVER__LIMITS__MAX_WAIT": "0.01",
    }


def test_a_creation_in_flight_across_a_reload_keeps_its_turn(tmp_path: Path) -> None:
    env = _env(tmp_path)
    gateway = Gateway(load_settings(None, env=env))

    async def main() -> str:
        before = gateway.runtime.storages["t1"].buckets
        await before._creating.enter(1.0)  # a CreateBucket through the old registry, at work
        gateway.reload(load_settings(None, env=env))
        after = gateway.runtime.storages["t1"].buckets
        assert after is not before
        try:
            await after.create("w16e2-after-reload")
        except S3Error as error:
            return error.code.name
        finally:
            before._creating.leave()
            await gateway.close()
        return "created beside the one in flight"

    assert asyncio.run(main()) == "SlowDown"


def test_an_override_that_is_not_yaml_is_named_as_such(tmp_path: Path) -> None:
    """``S3PROXY_TENANTS__T1__KEYS`` cut short was "Input should be a valid list": the YAML's
    own problem, on one line naming the variable, and never the value (it holds a secret)."""
    env = _env(tmp_path) | {"S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: s3cr"}
    try:
        load_settings(None, env=env)
    except ConfigError as error:
        message = str(error)
    assert message == (
        "S3PROXY_TENANTS__T1__KEYS: invalid YAML at column 37:"
        " the structure breaks (an unclosed bracket or quote, a missing comma)"
    )


def test_a_scalar_override_that_is_not_yaml_is_still_the_types_complaint(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"S3PROXY_SERVER__PORT": "[80"}
    try:
        load_settings(None, env=env)
    except ConfigError as error:
        message = str(error)
    assert message.startswith("server.port: Input should be a valid integer")


def test_the_default_connection_bound_is_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A box whose open-file limit is 20,000 leaves 9,936 client connections: the default
    10,000 is lowered to that at every start, which was a warning about a value nobody set."""
    caplog.set_level(logging.INFO, logger="s3proxy.open_files")
    default = load_settings(None, env=_env(tmp_path)).server
    assert server_bounds(default, 20_000) == (9_936, 1_000)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    caplog.clear()
    chosen = _env(tmp_path) | {"S3PROXY_SERVER__MAX_CLIENT_CONNECTIONS": "10000"}
    assert server_bounds(load_settings(None, env=chosen).server, 20_000) == (9_936, 1_000)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
