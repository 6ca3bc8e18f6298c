"""A loopback HAProxy (Debian's package) round-robining S3 requests over s3proxy replicas.

Why: s3proxy keeps no per-replica state (multipart upload ids and listing tokens are HMAC'd with
``server.secret``), so replicas scale out behind any HTTP load balancer. The scale-out test proves
that with a real one, configured the way the README tells operators to, and this module is that
configuration in one place (:func:`render_config`) plus start/stop by PID.

The choices that matter, each for a reason the test checks:

- ``balance roundrobin`` in ``mode http``: HAProxy picks a server *per request*, so consecutive
  requests of one client connection (the parts of one upload, the pages of one listing) land on
  different replicas. The Host header passes through unchanged, which SigV4 needs.
- ``option http-server-close`` and ``http-reuse never``: no idle server-side connection is kept.
  A replica that drains (SIGTERM) closes its listener; with no idle connection to it, every new
  request opens a fresh one, is refused, and ``retries`` + ``option redispatch 1`` send it to
  another replica before any byte of it reached the draining one.
- ``retry-on conn-failure empty-response`` and ``option http-buffer-request``: the narrow race
  where the replica accepted a connection just before its listener closed, then closed it without
  reading the request (Hypercorn treats a connection with no request parsed yet as idle), is
  retried on another replica. HAProxy retries at layer 7 only a request it holds whole, so it
  must buffer the body first: every boto3 PUT sends ``Expect: 100-continue``, and without
  ``http-buffer-request`` HAProxy forwards the headers, waits for the replica's 100, and has no
  body to replay; it then closes the client connection without a response or a log line (its
  "client must retry" path), which a client that does not retry sees as an error (measured:
  2 of ~3,300 PUT/GET pairs over 12 drains; none with the option). Requests larger than the
  buffer (``tune.bufsize``, raised here from 16 KiB) still cannot be replayed.
- ``option httpchk GET /readyz`` on each replica's admin port: a replica whose upstream is
  unreachable, or that is draining (its admin port closes too: refused at once), is taken out of
  rotation. ``timeout check 4s`` (above ``server.readiness_timeout``, 3 s, so that a slow
  upstream is /readyz's 503, not a check timeout): /readyz probes the upstream buckets, and on a
  busy machine that takes longer than a short check interval; without it the check times out
  after ``inter`` and
  healthy replicas were all marked DOWN at once (seen here with ``inter 200ms``: 503 for every
  request until they came back).

Use::

    ensure_installed()
    with HAProxy.start(work_dir, [Replica("r1", 9000, 9001), ...]) as balancer:
        balancer.wait_states({"r1": "UP", ...})
        ... requests to balancer.endpoint ...
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from conformance.debian import PackagesUnavailable, ensure_packages

LOOPBACK = "127.0.0.1"
POLL_INTERVAL = 0.05
SUN_PATH_MAX = 107  # bytes in a unix socket path, without the NUL
HAPROXY_PACKAGES = ("haproxy",)
BACKEND = "s3proxy_replicas"
# Big enough for a request with a body of a few tens of KiB to be retried at layer 7.
BUFFER_BYTES = 131072


class HAProxyUnavailable(PackagesUnavailable):
    """HAProxy is not installed and cannot be installed here (not root, or not Debian/apt)."""


def find_haproxy() -> str | None:
    """The haproxy binary: on PATH, else Debian's /usr/sbin (not on a non-root PATH)."""
    found = shutil.which("haproxy")
    if found is not None:
        return found
    sbin = Path("/usr/sbin/haproxy")
    return str(sbin) if sbin.is_file() else None


def ensure_installed(*, timeout: float = 600.0) -> str:
    """Install Debian's haproxy unless it is there; returns the binary's path.

    Raises :class:`HAProxyUnavailable` with the install command where that is impossible.
    """
    found = find_haproxy()
    if found is not None:
        return found
    try:
        ensure_packages(HAPROXY_PACKAGES, ["haproxy"], timeout=timeout)
    except PackagesUnavailable as error:
        raise HAProxyUnavailable(f"the scale-out load balancer {error}") from None
    found = find_haproxy()
    if found is None:
        raise RuntimeError("installed haproxy but its binary is not on PATH or in /usr/sbin")
    return found


@dataclass(frozen=True)
class Replica:
    """One s3proxy process as HAProxy sees it: S3 port for traffic, admin port for /readyz."""

    name: str
    port: int
    admin_port: int


def render_config(
    listen_port: int,
    replicas: Sequence[Replica],
    *,
    stats_socket: Path,
    check_interval_ms: int = 1000,
    fall: int = 2,
    rise: int = 2,
) -> str:
    """The haproxy.cfg that fronts ``replicas`` on 127.0.0.1:``listen_port`` (see module doc)."""
    servers = "\n".join(
        f"    server {r.name} {LOOPBACK}:{r.port} check port {r.admin_port}" for r in replicas
    )
    return f"""\
global
    log stdout format raw local0 info
    stats socket {stats_socket} mode 600 level admin
    tune.bufsize {BUFFER_BYTES}

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 30s
    timeout check 4s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    option http-buffer-request
    option http-server-close
    http-reuse never

frontend s3
    bind {LOOPBACK}:{listen_port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter {check_interval_ms}ms fall {fall} rise {rise}
{servers}
"""


class HAProxy:
    """A foreground (``-db``) haproxy child in its own session, logging to a file."""

    START_TIMEOUT = 15.0

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        log_file: IO[bytes],
        *,
        port: int,
        config_path: Path,
        log_path: Path,
        stats_socket: Path,
    ) -> None:
        self._popen = popen
        self._log_file = log_file
        self.port = port
        self.config_path = config_path
        self.log_path = log_path
        self.stats_socket = stats_socket

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @classmethod
    def start(
        cls,
        work_dir: Path,
        port: int,
        replicas: Sequence[Replica],
        *,
        check_interval_ms: int = 1000,
        fall: int = 2,
        rise: int = 2,
        timeout: float = START_TIMEOUT,
    ) -> HAProxy:
        """Write the config, check it (``haproxy -c``), start haproxy, wait until it answers."""
        binary = ensure_installed()
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        stats_socket = work_dir / "haproxy.sock"
        if len(str(stats_socket).encode()) > SUN_PATH_MAX:
            stats_socket = Path(f"/tmp/s3proxy-haproxy-{port}.sock")
        config_path = work_dir / "haproxy.cfg"
        config_path.write_text(
            render_config(
                port,
                replicas,
                stats_socket=stats_socket,
                check_interval_ms=check_interval_ms,
                fall=fall,
                rise=rise,
            )
        )
        check = subprocess.run(
            [binary, "-c", "-f", str(config_path)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejects {config_path}:\n{check.stdout}{check.stderr}")
        log_path = work_dir / "haproxy.log"
        log_file = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                [binary, "-db", "-f", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=work_dir,
                start_new_session=True,
            )
        except BaseException:
            log_file.close()
            raise
        balancer = cls(
            popen,
            log_file,
            port=port,
            config_path=config_path,
            log_path=log_path,
            stats_socket=stats_socket,
        )
        try:
            balancer._wait_answering(time.monotonic() + timeout)
        except BaseException:
            balancer.stop()
            raise
        return balancer

    def _wait_answering(self, deadline: float) -> None:
        while True:
            if self._popen.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self._popen.returncode}:\n{self.log()}")
            if self.stats_socket.exists():
                with contextlib.suppress(OSError):
                    self.server_states()
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"haproxy on port {self.port} did not start:\n{self.log()}")
            time.sleep(POLL_INTERVAL)

    def command(self, line: str) -> str:
        """One command on the stats socket (runtime API), its whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(str(self.stats_socket))
            sock.sendall(line.encode() + b"\n")
            chunks: list[bytes] = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def server_states(self) -> dict[str, str]:
        """Each replica's state as HAProxy's health checks see it: "UP", "DOWN", "NOLB", …"""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(line for line in text.splitlines() if line)
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_states(self, expected: Mapping[str, str], timeout: float = 15.0) -> None:
        """Poll until every named replica is in the expected state (e.g. "UP" after rise)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.server_states()
            if all(states.get(name, "").startswith(want) for name, want in expected.items()):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"haproxy states {states}, expected {dict(expected)}")
            time.sleep(POLL_INTERVAL)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"<cannot read {self.log_path}: {error}>"

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM (hard stop: a test's balancer has nothing to drain), then SIGKILL; by PID."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if self._popen.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(wait)
        code = self._popen.wait()
        self._log_file.close()
        with contextlib.suppress(OSError):
            self.stats_socket.unlink(missing_ok=True)
        return code

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
