"""What the proxy says when it starts: a summary an operator can check at a glance, and, on the
first start of the zero-config mode, client settings a new user can paste.

Why: the upstream quick start idles at about twice the memory of the local store (one admin and
N worker processes, each with its own upstream connection pools), and a red /readyz was only
visible to whoever asked for it. The summary names the mode, the endpoints, the processes, the
data directories, each serving process's memory and the upstreams' readiness, so neither is a
surprise. The functions return lines; the server logs them.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from s3proxy import host_id
from s3proxy.config.models import LocalStoreConfig, Settings, UpstreamConfig

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def client_host(host: str) -> str:
    """The address a client on this machine dials for a listen address (a wildcard: loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def mode(settings: Settings, config_path: Path | None) -> str:
    """The start mode in words: configuration file, zero-config local store or quick start."""
    if config_path is not None:
        return f"configuration file {config_path}"
    if any(isinstance(u, LocalStoreConfig) for u in settings.upstreams.values()):
        return "zero-config local store"
    endpoints = ", ".join(
        str(u.endpoint) for u in settings.upstreams.values() if isinstance(u, UpstreamConfig)
    )
    return f"upstream quick start ({endpoints})"


def summary(settings: Settings, config_path: Path | None, workers: int) -> list[str]:
    """Mode, processes and data directories (the endpoints are the serving line's)."""
    if workers > 1:
        processes = f"{workers} worker processes on the S3 port, 1 admin process"
    else:
        processes = "1 process serving the S3 and admin ports"
    lines = [f"mode: {mode(settings, config_path)}; {processes}"]
    lines.extend(
        f"data directory of upstream {name}: {upstream.path}"
        for name, upstream in sorted(settings.upstreams.items())
        if isinstance(upstream, LocalStoreConfig)
    )
    return lines


def rss_mib(pid: int | None = None) -> float | None:
    """Resident memory of ``pid`` (this process by default) in MiB; None where /proc is not."""
    try:
        with open(f"/proc/{pid or 'self'}/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * _PAGE / (1024 * 1024)


def memory_line(role: str) -> str:
    """This serving process: its memory, and the ``x-amz-id-2`` its answers carry (s3proxy.host_id),
    so that a client's report leads to this process's log."""
    mib = rss_mib()
    size = f"{mib:.1f} MiB resident" if mib is not None else "resident size unknown"
    return f"memory: {role} process {os.getpid()}: {size}; x-amz-id-2 {host_id.HOST_ID.decode()}"


def readiness_line(
    results: dict[str, tuple[str, str]], ready: bool | None = None
) -> tuple[bool, str]:
    """(no upstream bucket failing, one line) from :meth:`s3proxy.gateway.Gateway.check_ready`'s
    results; ``ready``: the replica's readiness as /readyz decides it (s3proxy.readiness; None:
    ready only if every bucket answers)."""
    if not results:
        return True, "upstream readiness: no upstream bucket to check"
    parts = [
        f"{target} {condition}" + (f" ({detail})" if detail and condition != "ok" else "")
        for target, (condition, detail) in results.items()
    ]
    healthy = all(condition == "ok" for condition, _ in results.values())
    if ready is None:
        ready = healthy
    if healthy:
        tail = ""
    elif ready:
        tail = "; /readyz answers 200 (another upstream answers), this one's requests fail"
    else:
        tail = "; /readyz answers 503 until this is fixed"
    return healthy, "upstream readiness: " + ", ".join(parts) + tail


def client_settings(endpoint: str, access_key: str, secret_key: str, region: str) -> list[str]:
    """Ready-to-paste settings for aws-cli, rclone and s3cmd (path-style addressing)."""
    ak, sk, url = shlex.quote(access_key), shlex.quote(secret_key), shlex.quote(endpoint)
    host = shlex.quote(endpoint.split("://", 1)[1])
    ssl = "" if endpoint.startswith("https://") else " --no-ssl"
    return [
        "client settings (paste into a shell):",
        f"  aws-cli: export AWS_ACCESS_KEY_ID={ak} AWS_SECRET_ACCESS_KEY={sk}"
        f" AWS_DEFAULT_REGION={shlex.quote(region)}",
        f"           aws --endpoint-url {url} s3 mb s3://my-bucket",
        f"  rclone:  rclone config create s3proxy s3 provider=Other endpoint={url}"
        f" access_key_id={ak} secret_access_key={sk} region={shlex.quote(region)}",
        "           rclone mkdir s3proxy:my-bucket",
        f"  s3cmd:   s3cmd --access_key={ak} --secret_key={sk} --host={host}"
        f" --host-bucket={host} --region={shlex.quote(region)}{ssl} mb s3://my-bucket",
    ]
