"""What every benchmark starts: an upstream bucket and a proxy in front of it, on free
loopback ports, stopped by PID at the end."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from conformance.s3client import boto3_client  # noqa: E402
from tests.support.processes import ProxyProcess, free_port, write_config  # noqa: E402

UPSTREAM_BUCKET = "bench-upstream"


@dataclass
class RunningProxy:
    endpoint: str
    process: ProxyProcess


def s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    return boto3_client(endpoint, access_key, secret_key, max_pool_connections=32)


@contextmanager
def proxy_in_front_of(
    server: Any,
    work: Path,
    access_key: str,
    secret_key: str,
    *,
    shards: int = 16,
    endpoint: str | None = None,
) -> Iterator[RunningProxy]:
    """A proxy whose single tenant ``bench`` has its home in ``UPSTREAM_BUCKET`` on ``server``
    (any object with endpoint/access_key/secret_key), reached at ``endpoint`` if given (a
    relay) or directly."""
    s3_client(server.endpoint, server.access_key, server.secret_key).create_bucket(
        Bucket=UPSTREAM_BUCKET
    )
    port, admin_port = free_port(), free_port()
    config = write_config(
        work / "s3proxy.yaml",
        {
            "server": {"port": port, "admin_port": admin_port, "secret": "x" * 32},
            "upstreams": {
                "up": {
                    "endpoint": endpoint or server.endpoint,
                    "access_key": server.access_key,
                    "secret_key": server.secret_key,
                }
            },
            "tenants": {
                "bench": {
                    "keys": [{"access_key": access_key, "secret_key": secret_key}],
                    "home": {"upstream": "up", "bucket": UPSTREAM_BUCKET},
                }
            },
            "layout": {"shards": shards},
            "logging": {"access_log": False},
        },
    )
    process = ProxyProcess.start(config, admin_port=admin_port, log_path=work / "proxy.log")
    try:
        yield RunningProxy(f"http://127.0.0.1:{port}", process)
    finally:
        process.stop()
