"""Configuration errors an operator meets at start, each one line saying what to do (wave 16, E).

- ``server.workers`` is a number from 1 to 256 or ``auto``; ``workers: 0`` was reported as two
  lines under locations pydantic gives the union's members, ``server.workers.constrained-int``
  and ``server.workers.literal['auto']``, which read as keys the operator never wrote;
- a local store that could not keep the generated server secret named the quick start's
  ``--state-dir``;
- an upstream endpoint on port 0 was taken, and one on a port out of range was said to be no
  http(s) URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3proxy.config import ConfigError, load_settings
from s3proxy.config.local_default import with_persistent_secret

BASE = {
    "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "http://127.0.0.1:8333",
    "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
    "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
}


@pytest.mark.parametrize(
    ("workers", "expected"),
    [
        ("0", "server.workers: Input should be greater than or equal to 1, or 'auto'"),
        ("300", "server.workers: Input should be less than or equal to 256, or 'auto'"),
        (
            "many",
            "server.workers: Input should be a valid integer, unable to parse string as an"
            " integer, or 'auto'",
        ),
    ],
)
def test_a_workers_value_that_fits_neither_member_is_one_line(workers: str, expected: str) -> None:
    env = {**BASE, "S3PROXY_SERVER__WORKERS": workers, "S3PROXY_SERVER__PORT": "0"}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env=env)
    assert str(caught.value).splitlines() == [expected]


def test_other_fields_errors_stay_one_line_each() -> None:
    env = {**BASE, "S3PROXY_SERVER__WORKERS": "0", "S3PROXY_SERVER__ENGINE": "nginx"}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env=env)
    assert str(caught.value).splitlines() == [
        "server.workers: Input should be greater than or equal to 1, or 'auto'",
        "server.engine: Input should be 'hypercorn' or 'uvicorn'",
    ]


def test_a_local_store_that_cannot_keep_the_secret_is_not_told_of_state_dir(
    tmp_path: Path,
) -> None:
    """A ``--config`` deployment's local store that cannot keep the generated server secret was
    told to "give another --state-dir", an option of the upstream quick start only."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {
        "S3PROXY_UPSTREAMS__DISK__TYPE": "local",
        "S3PROXY_UPSTREAMS__DISK__PATH": str(blocker / "store"),
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: disk, bucket: data}",
    }
    with pytest.raises(ConfigError) as caught:
        with_persistent_secret(load_settings(None, env=env))
    message = str(caught.value)
    assert "--state-dir" not in message
    assert message.endswith("(make it a writable directory, or set server.secret)")
    assert str(blocker / "store") in message


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:0", "http://s3:99999", "http://s3:x"])
def test_an_upstream_port_that_cannot_be_connected_to_is_named(endpoint: str) -> None:
    """Port 0 was taken (every request then failed to connect), and a port out of range was
    called "not an http:// or https:// URL without credentials"."""
    env = {**BASE, "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": endpoint}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env=env)
    assert str(caught.value).splitlines() == [
        "upstreams.main.endpoint: must name a port from 1 to 65535, or none (80, or 443 for https)"
    ]
