"""Run the gateway in-process under Hypercorn: the S3 port and the admin port in one event loop.

Signals: SIGTERM/SIGINT fail readiness at once, keep serving for ``server.drain_delay``
seconds (0 by default; a second signal ends the wait), then stop accepting and let in-flight
requests finish for up to ``server.shutdown_timeout`` seconds, the log saying every second
how many are still in flight (a silent 30 s wait looks like a hang); SIGHUP reloads tenants,
keys and mappings from the config file (under the command line's overrides, as at the start),
keeping the old configuration (and saying why) when the new one is invalid. From the start of
:func:`run` those signals wait for their handlers: one that came during the start-up ended the
process there, before anything could stop cleanly.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from s3proxy import event_loop, hypercorn_patch, startup
from s3proxy.admin_app import create_admin_app
from s3proxy.app import S3App
from s3proxy.config import ConfigError, Settings, load_settings
from s3proxy.config.loading import HOW_TO_SET_SECRET, weak_secret
from s3proxy.config.local_default import with_persistent_secret
from s3proxy.connections import ConnectionCounts
from s3proxy.connections import install as bound_connections
from s3proxy.connections import install_admin as bound_admin_connections
from s3proxy.gateway import RESTART_ONLY, Gateway
from s3proxy.logs import configure_logging, flush_logs
from s3proxy.open_files import raise_open_file_limit, server_bounds
from s3proxy.stalled_answers import STALLS
from s3proxy.tls_front import handshake_timeout
from s3proxy.worker_count import multiprocess_metrics_active, worker_count

log = logging.getLogger("s3proxy")
LOG_FLUSH_SECONDS = 1.0
DRAIN_REPORT_SECONDS = 1.0

ADMIN_KEEP_ALIVE_SECONDS = 5.0
"""An idle admin-port connection closes after this long (or ``server.keep_alive_timeout``, if
shorter), as does one whose request head is still arriving. The S3 port's 75 s outlast a load
balancer's idle timeout; nothing on the admin port needs that (kubelet probes and ALB health
checks open a connection per probe, a Prometheus scrape every 15-60 s reconnects for ~1 ms),
and at 75 s a probe or scraper leaving its sockets open held its 32 per address, of 256 in all
(``server.admin_max_connections``), for more than a minute each."""

STOP_NOW = signal.SIGUSR2
"""Stop accepting at once, without the drain: what the supervisor sends its admin process."""
DRAIN_NOW = signal.SIGUSR1
"""The drain began, keep serving: what the supervisor sends its workers at its first SIGTERM, so
their answers say ``Connection: close`` while /readyz fails (a SIGTERM still stops a worker)."""
HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, DRAIN_NOW, STOP_NOW}
"""The signals serve_role handles. A supervisor's child starts with them blocked and takes them
once its handlers exist: before, their default action ended it (a SIGTERM just after a start
killed it instead of draining it; the drain's SIGUSR1 killed a starting worker)."""

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


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _hypercorn_config(host: str, port: int, settings: Settings) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [address(host, port)]
    config.graceful_timeout = settings.server.shutdown_timeout
    config.include_server_header = False
    config.alpn_protocols = ["http/1.1"]  # HTTP/2 is not served (hypercorn_patch.http1_only)
    config.keep_alive_timeout = settings.server.keep_alive_timeout
    config.ssl_handshake_timeout = handshake_timeout(settings.server.keep_alive_timeout)
    # a client that reads none of its answer for this long is dropped (hypercorn_closing)
    config.s3proxy_send_timeout = settings.server.body_idle_timeout  # type: ignore[attr-defined]
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


def restart_only(current: Settings, loaded: Settings) -> str | None:
    """What a reload from ``current`` to ``loaded`` changes that only a restart applies, in
    one line for the log (a changed port or timeout was silently kept)."""
    changed = [
        f"server.{name}"
        for name in RESTART_ONLY
        if getattr(current.server, name) != getattr(loaded.server, name)
    ]
    if not changed:
        return None
    return f"{', '.join(changed)} changed: needs a restart to apply"


def _reload(
    gateway: Gateway,
    config_path: Path | None,
    overrides: Mapping[str, Any],
    role: Role,
    send_timeouts: Sequence[Callable[[float], None]] = (),
) -> None:
    """Load the file again under the command line's ``overrides`` (``--shards``, ``--port`` …):
    without them a server started with ``--shards 256`` over a file naming none refused every
    SIGHUP ("layout changed"). ``send_timeouts`` set ``body_idle_timeout`` where the engines
    hold it for answers: a reload applied it to request bodies only (read at each request)."""
    if config_path is None:
        log.warning("SIGHUP ignored: the proxy was started without a config file")
        return
    try:
        loaded = load_settings(config_path, overrides=overrides)
        kept = restart_only(gateway.runtime.settings, loaded)
        gateway.reload(loaded)
    except (ConfigError, ValueError, OSError) as exc:
        log.error("reload of %s failed, keeping the running configuration: %s", config_path, exc)
        return
    if role.serve_s3:  # read at each stall, so a reload applies it (it was read at start only)
        STALLS.configure(gateway.runtime.settings.server.max_stalled_answers)
    for set_send_timeout in send_timeouts:
        set_send_timeout(gateway.runtime.settings.server.body_idle_timeout)
    log.info("configuration reloaded from %s", config_path)
    if kept is not None and not role.supervised:  # a supervisor says it, once
        log.warning(kept)


@dataclass(frozen=True, slots=True)
class Role:
    """What one process serves. ``Role()`` is a server of its own; a supervisor's child
    (``supervised``) waits ``drain_delay`` after its first SIGTERM (``None``: until a second
    signal, the admin process, which the supervisor stops after the workers)."""

    s3_fd: int | None = None
    admin_fd: int | None = None
    serve_s3: bool = True
    serve_admin: bool = True
    drain_delay: float | None = 0.0
    registry: CollectorRegistry | None = None
    announce: bool = True
    draining: bool = False
    """Started while its server drains (a supervisor's replacement for a dead process): it drains
    from its start, as if it had heard the first signal."""
    supervised: bool = False
    """A supervisor's child: the supervisor runs ``server.drain_delay`` and sends
    :data:`DRAIN_NOW` and :data:`STOP_NOW`. A server of its own waits ``server.drain_delay``
    itself (as last reloaded) and ignores both: an operator's SIGUSR1 (how many daemons are
    told to reopen their logs) made it drain for good, and the SIGTERM after it, taken for a
    second signal, stopped it without the delay; and ``Role().drain_delay``, 0, was the delay
    of every one-process server, whatever ``server.drain_delay`` said."""
    parent: int | None = None
    """A supervisor's child: the supervisor's pid. Once it is gone (``kill -9``) the child stops
    as at :data:`STOP_NOW`, at its next second: what ``PR_SET_PDEATHSIG`` does at once on Linux
    (s3proxy.supervisor), where ``prctl`` fails and on other systems too."""


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=backlog)


def bind_ports(settings: Settings, role: Role) -> Role:
    """The role with both ports bound, for the one process that serves both: the servers bound
    them as they started, after the "serving" line, so a port in use was said to be served
    first. OSError (nothing left bound) if either cannot be. The backlogs are those each server
    would have given its own socket."""
    server = settings.server
    s3_backlog = 1024 if server.engine == "uvicorn" else HypercornConfig.backlog
    s3 = _listen(server.host, server.port, s3_backlog)
    try:
        admin = _listen(server.admin_host, server.admin_port, HypercornConfig.backlog)
    except OSError:
        s3.close()
        raise
    return replace(role, s3_fd=s3.detach(), admin_fd=admin.detach())


async def serve_role(
    settings: Settings,
    config_path: Path | None,
    role: Role,
    overrides: Mapping[str, Any] | None = None,
) -> int:
    if role.serve_s3 and role.serve_admin and role.s3_fd is None and role.admin_fd is None:
        role = bind_ports(settings, role)
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
    admin_config.keep_alive_timeout = min(ADMIN_KEEP_ALIVE_SECONDS, admin_config.keep_alive_timeout)
    if role.admin_fd is not None:
        admin_config.bind = [f"fd://{role.admin_fd}"]
    send_timeouts: list[Callable[[float], None]] = [
        partial(setattr, config, "s3proxy_send_timeout") for config in (s3_config, admin_config)
    ]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    grace = settings.server.shutdown_timeout
    s3_app = S3App(gateway) if role.serve_s3 else None
    heard = False
    """A shutdown signal came: the next one ends the drain's wait."""

    def report_drain() -> None:
        """Every second from the first signal to the exit: what the drain still waits for."""
        if s3_app is None:
            return
        count = s3_app.in_flight
        plural = "" if count == 1 else "s"
        log.info("draining: %d request%s in flight (pid %d)", count, plural, os.getpid())
        loop.call_later(DRAIN_REPORT_SECONDS, report_drain)

    def stop_accepting() -> None:
        if role.serve_s3:
            log.info("shutting down: no new connections, %.0f s for in-flight requests", grace)
        stop.set()

    def begin_shutdown() -> None:
        nonlocal heard
        if heard:  # a second signal: stop waiting for the load balancer
            if not stop.is_set():
                stop_accepting()
                loop.call_later(grace + 2, _hard_exit)
            return
        heard = True
        if not gateway.draining:  # else a supervisor's DRAIN_NOW came first: reported then
            gateway.draining = True
            report_drain()
        delay = role.drain_delay
        if not role.supervised:
            delay = gateway.runtime.settings.server.drain_delay
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
        if not gateway.draining:
            report_drain()
        gateway.draining = True
        if not stop.is_set():
            stop_accepting()
            loop.call_later(grace + 2, _hard_exit)

    def drain_now() -> None:
        if not gateway.draining:
            gateway.draining = True
            report_drain()

    def ignored(signum: int) -> None:
        name = signal.Signals(signum).name
        log.warning("%s ignored: SIGTERM drains and stops, SIGHUP reloads", name)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, begin_shutdown)
    if role.supervised:
        loop.add_signal_handler(DRAIN_NOW, drain_now)
        loop.add_signal_handler(STOP_NOW, stop_now)
    else:
        for signum in (DRAIN_NOW, STOP_NOW):
            loop.add_signal_handler(signum, ignored, signum)
    loop.add_signal_handler(
        signal.SIGHUP, _reload, gateway, config_path, overrides or {}, role, send_timeouts
    )
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)  # held since the fork (s3proxy.supervisor)
    if role.draining:
        drain_now()

    def flush_periodically() -> None:
        flush_logs()
        if role.parent is not None and os.getppid() != role.parent and not stop.is_set():
            log.warning("supervisor %d is gone: pid %d stops", role.parent, os.getpid())
            stop_now()
        loop.call_later(LOG_FLUSH_SECONDS, flush_periodically)

    loop.call_later(LOG_FLUSH_SECONDS, flush_periodically)
    servers = []
    if s3_app is not None:
        server = settings.server
        counts = ConnectionCounts(*server_bounds(server, raise_open_file_limit()))
        STALLS.configure(server.max_stalled_answers)  # the S3 port's answers only
        s3_config.s3proxy_stalls = STALLS  # type: ignore[attr-defined]
        if server.engine == "uvicorn":  # imported only when chosen
            from s3proxy import uvicorn_engine

            fd, timeouts = role.s3_fd, send_timeouts
            servers.append(uvicorn_engine.serve(s3_app, settings, fd, counts, stop, timeouts))
        else:
            bound_connections(counts, s3_app)
            servers.append(serve(s3_app, s3_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    if role.serve_admin:
        admin = create_admin_app(gateway, role.registry)
        server = settings.server
        admin_counts = ConnectionCounts(
            server.admin_max_connections, server.admin_max_connections_per_client
        )
        bound_admin_connections(admin_counts, admin)
        servers.append(serve(admin, admin_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    if role.announce:
        log.info(
            "s3proxy serving S3 on %s, admin on %s",
            address(settings.server.host, settings.server.port),
            address(settings.server.admin_host, settings.server.admin_port),
        )
    if role.serve_s3:
        log.info(startup.memory_line("server" if role.serve_admin else "worker"))
    readiness = asyncio.create_task(_log_readiness(gateway)) if role.serve_admin else None
    running = [asyncio.ensure_future(server_task) for server_task in servers]
    try:
        await asyncio.gather(*running)
    except BaseException:
        # One server failed (the S3 port cannot be bound): stop the others as SIGTERM would and
        # wait for them, else asyncio cancels them at exit and logs their tracebacks before the
        # one "cannot serve" line.
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    finally:
        if readiness is not None:
            readiness.cancel()
        await gateway.close()
    if role.announce:
        log.info("s3proxy stopped")
    return 0


async def _log_readiness(gateway: Gateway) -> None:
    """Once, at start: the upstreams' readiness, as /readyz would answer it."""
    results = await gateway.check_ready()
    healthy, line = startup.readiness_line(results, gateway.is_ready(results))
    log.log(logging.INFO if healthy else logging.WARNING, line)


def run(
    settings: Settings, config_path: Path | None, overrides: Mapping[str, Any] | None = None
) -> int:
    """Serve until stopped. ``overrides``: the command line's, applied to the file at each
    reload as they were at the start."""
    # A stop signal that comes while the server starts waits for serve_role's handlers (or the
    # supervisor's): its default action ended the start-up midway (exit -15, no log flushed).
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    configure_logging(settings)
    tune_malloc()
    raise_open_file_limit()  # before the upstream budgets read it, and workers inherit it
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
    if workers > 1 and not multiprocess_metrics_active():
        log.warning(
            "server.workers=%d needs metrics shared between processes, which must be set up "
            "before prometheus_client is imported (s3proxy serve does this): serving with 1",
            workers,
        )
        workers = 1
    for line in startup.summary(settings, config_path, workers):
        log.info(line)
    log.info(
        "event loop: %s; HTTP engine: %s",
        event_loop.loop_factory(settings.server.event_loop)[0],
        settings.server.engine,
    )
    if workers > 1:
        from s3proxy.supervisor import supervise

        return supervise(settings, config_path, workers, overrides)
    try:
        serving = serve_role(settings, config_path, Role(), overrides)
        return event_loop.run(serving, settings.server.event_loop)
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return 1
