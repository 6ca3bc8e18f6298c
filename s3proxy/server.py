"""Run the gateway in-process under Hypercorn: the S3 port and the admin port in one event loop.

Signals: SIGTERM/SIGINT fail readiness at once, keep serving for ``server.drain_delay``
seconds (0 by default; a second signal ends the wait), then stop accepting and let in-flight
requests finish for up to ``server.shutdown_timeout`` seconds; SIGHUP reloads tenants, keys and
mappings from the config file, keeping the old configuration (and saying why) when the new one
is invalid.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from s3proxy import hypercorn_patch
from s3proxy.app import Gateway, S3App, create_admin_app
from s3proxy.config import ConfigError, Settings, load_settings
from s3proxy.config.loading import HOW_TO_SET_SECRET, weak_secret
from s3proxy.config.local_default import with_persistent_secret
from s3proxy.connections import ConnectionCounts
from s3proxy.connections import install as bound_connections
from s3proxy.worker_count import multiprocess_metrics_active, worker_count

log = logging.getLogger("s3proxy")
ACCESS_LOGGER = "s3proxy.access"
LOG_FLUSH_SECONDS = 1.0

STOP_NOW = signal.SIGUSR2
"""Stop accepting at once, without the drain: what the supervisor sends its admin process."""

# glibc: serve large buffers with mmap and trim rarely; streaming CPU drops 2-4× (S3-NOTES.md).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def tune_malloc() -> None:
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


class JsonFormatter(logging.Formatter):
    """Access-log records are already JSON; everything else becomes a JSON line too."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER:
            return record.getMessage()
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes access-log lines in batches, as nginx's ``access_log … buffer=64k flush=1s``: one
    write and flush per request was 7-9 % of the CPU of a small request (BENCHMARKS.md). A batch
    is written when it reaches ``max_bytes``, when its oldest line is ``max_delay`` old (checked
    on every line and by :func:`flush_logs`, which the server calls every second), and at exit.
    Any other record (a warning, an error) is written at once, after the lines before it."""

    def __init__(self, stream: Any, max_delay: float = 1.0, max_bytes: int = 64 * 1024) -> None:
        super().__init__(stream)
        self.max_delay = max_delay
        self.max_bytes = max_bytes
        self._pending: list[str] = []
        self._size = 0
        self._oldest = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        now = time.monotonic()
        if not self._pending:
            self._oldest = now
        self._pending.append(line)
        self._size += len(line)
        if (
            record.name != ACCESS_LOGGER
            or self._size >= self.max_bytes
            or now - self._oldest >= self.max_delay
        ):
            self.flush()

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            if self._pending:
                batch, self._pending, self._size = "".join(self._pending), [], 0
                try:
                    self.stream.write(batch)
                except (OSError, ValueError):
                    return
            super().flush()


def flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure_logging(settings: Settings) -> None:
    # The logging HOWTO's "Optimization" settings: the JSON lines carry no source location,
    # thread or process, and finding the caller's frame was 10 of the 23 µs of an access line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BatchedStreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.logging.level.upper())
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO if settings.logging.access_log else logging.WARNING)


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _hypercorn_config(host: str, port: int, settings: Settings) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [address(host, port)]
    config.graceful_timeout = settings.server.shutdown_timeout
    config.include_server_header = False
    config.keep_alive_timeout = settings.server.keep_alive_timeout
    # Body messages a request may have waiting for the application: 4 reads of 256 KiB
    # (hypercorn_patch.SOCKET_READ) bound what a slow upstream makes the proxy hold per upload.
    config.max_app_queue_size = 4
    config.accesslog = None
    config.errorlog = logging.getLogger("s3proxy.server")
    return config


def _hard_exit() -> None:
    log.warning("shutdown timeout passed with connections still open: exiting")
    logging.shutdown()
    os._exit(0)


def _reload(gateway: Gateway, config_path: Path | None) -> None:
    if config_path is None:
        log.warning("SIGHUP ignored: the proxy was started without a config file")
        return
    try:
        gateway.reload(load_settings(config_path))
    except (ConfigError, ValueError, OSError) as exc:
        log.error("reload of %s failed, keeping the running configuration: %s", config_path, exc)
        return
    log.info("configuration reloaded from %s", config_path)


@dataclass(frozen=True, slots=True)
class Role:
    """What one process serves. ``None`` drain delay: serve until a second signal (the admin
    process of a multi-worker server, which the supervisor stops after the workers)."""

    s3_fd: int | None = None
    admin_fd: int | None = None
    serve_s3: bool = True
    serve_admin: bool = True
    drain_delay: float | None = 0.0
    registry: CollectorRegistry | None = None
    announce: bool = True


async def serve_role(settings: Settings, config_path: Path | None, role: Role) -> int:
    gateway = Gateway(settings)
    s3_config = _hypercorn_config(settings.server.host, settings.server.port, settings)
    if role.s3_fd is not None:
        s3_config.bind = [f"fd://{role.s3_fd}"]
    if settings.server.tls_cert is not None and settings.server.tls_key is not None:
        s3_config.certfile = str(settings.server.tls_cert)
        s3_config.keyfile = str(settings.server.tls_key)
    admin_config = _hypercorn_config(
        settings.server.admin_host, settings.server.admin_port, settings
    )
    if role.admin_fd is not None:
        admin_config.bind = [f"fd://{role.admin_fd}"]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    grace = settings.server.shutdown_timeout
    delay = role.drain_delay

    def stop_accepting() -> None:
        if role.serve_s3:
            log.info("shutting down: no new connections, %.0f s for in-flight requests", grace)
        stop.set()

    def begin_shutdown() -> None:
        if gateway.draining:  # a second signal: stop waiting for the load balancer
            if not stop.is_set():
                stop_accepting()
                loop.call_later(grace + 2, _hard_exit)
            return
        gateway.draining = True
        if delay is None:
            return
        if delay > 0:
            log.info("draining: /readyz answers 503, still serving for %.1f s", delay)
        loop.call_later(delay, stop_accepting)
        # Hypercorn bounds in-flight requests by graceful_timeout, but closing an idle TLS
        # connection waits for the client's close_notify (asyncio: up to 30 s), outside that
        # bound. The drain must end on time whatever the clients do.
        loop.call_later(delay + grace + 2, _hard_exit)

    def stop_now() -> None:  # the supervisor's "the workers are gone": no drain to wait for
        gateway.draining = True
        if not stop.is_set():
            stop_accepting()
            loop.call_later(grace + 2, _hard_exit)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, begin_shutdown)
    loop.add_signal_handler(STOP_NOW, stop_now)
    loop.add_signal_handler(signal.SIGHUP, _reload, gateway, config_path)

    def flush_periodically() -> None:
        flush_logs()
        loop.call_later(LOG_FLUSH_SECONDS, flush_periodically)

    loop.call_later(LOG_FLUSH_SECONDS, flush_periodically)
    servers = []
    if role.serve_s3:
        s3_app = S3App(gateway)
        server = settings.server
        counts = ConnectionCounts(server.max_client_connections, server.max_connections_per_client)
        bound_connections(counts, s3_app)
        servers.append(serve(s3_app, s3_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    if role.serve_admin:
        admin = create_admin_app(gateway, role.registry)
        servers.append(serve(admin, admin_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    if role.announce:
        log.info(
            "s3proxy serving S3 on %s, admin on %s",
            address(settings.server.host, settings.server.port),
            address(settings.server.admin_host, settings.server.admin_port),
        )
    try:
        await asyncio.gather(*servers)
    finally:
        await gateway.close()
    if role.announce:
        log.info("s3proxy stopped")
    return 0


def run(settings: Settings, config_path: Path | None) -> int:
    configure_logging(settings)
    tune_malloc()
    hypercorn_patch.install()
    settings = with_persistent_secret(settings)
    weak = weak_secret(settings)
    if weak is not None:  # check-config refuses it; a running deployment keeps starting
        log.warning("%s: %s", weak, HOW_TO_SET_SECRET)
    if settings.server.secret is None:
        log.warning(
            "server.secret is not set: a random one is used, so tokens this replica issues "
            "(multipart upload ids, listing tokens) are not valid on other replicas or after "
            "a restart; %s",
            HOW_TO_SET_SECRET,
        )
        settings = settings.model_copy(
            update={
                "server": settings.server.model_copy(
                    update={"secret": SecretStr(secrets.token_hex(32))}
                )
            }
        )
    workers = worker_count(settings)
    if workers > 1 and multiprocess_metrics_active():
        from s3proxy.supervisor import supervise

        return supervise(settings, config_path, workers)
    if workers > 1:
        log.warning(
            "server.workers=%d needs metrics shared between processes, which must be set up "
            "before prometheus_client is imported (s3proxy serve does this): serving with 1",
            workers,
        )
    try:
        return asyncio.run(serve_role(settings, config_path, Role()))
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return 1
