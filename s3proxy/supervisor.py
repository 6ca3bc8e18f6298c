"""Serve the S3 port from several processes: one Python process only ever uses one core.

The parent binds both ports (so an address in use is reported once, before anything starts),
then forks: N workers that accept on the one shared S3 socket, and one admin process that serves
/healthz, /readyz and /metrics (the sum of every worker's samples, through prometheus_client's
multiprocess files; a replaced worker's are folded into one, s3proxy.metrics_files). The parent
itself runs no event loop and no thread — it only waits for signals — so forking again to
replace a worker that died is always safe.

Signals to the parent keep the single-process meaning: SIGTERM/SIGINT make /readyz answer 503,
the workers keep serving for ``server.drain_delay`` seconds (a second signal ends the wait), then
stop accepting and finish in-flight requests within ``server.shutdown_timeout``; the admin
process stops last. The workers hear of the first signal (:data:`DRAIN_NOW`): their answers say
``Connection: close`` from then on, so keep-alive clients move to another replica while this
one still answers. SIGHUP is passed to every process, each reloads the configuration (under the
command line's overrides, as at the start), once the parent has found that the file loads (else
it says why, once).

One server is one consistent server: before forking, the parent maps the shared bucket-cache
generation (s3proxy.backends.bucket_cache) and gives every child a slot of it, so a bucket
created or deleted through one worker is seen by all. And no child outlives the parent: each
asks the kernel for a parent-death signal (Linux ``PR_SET_PDEATHSIG``), so after a ``kill -9``
of the parent the children stop accepting at once and a new ``serve`` can bind the ports. The
metrics directory's lock (s3proxy.worker_count) is the parent's alone, so it goes with the
parent too: the children it left finish their requests while a new ``serve`` claims the
directory (they held it for up to ``server.shutdown_timeout``, and a new server given the same
``PROMETHEUS_MULTIPROC_DIR`` exited, "used by another running s3proxy server"); and they write
no new metrics file there (s3proxy.metrics_mmap), where no admin process of theirs reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from hypercorn.config import Config as HypercornConfig
from prometheus_client import CollectorRegistry, multiprocess

from s3proxy import event_loop, metrics_mmap, worker_count
from s3proxy.backends import bucket_cache, key_turns
from s3proxy.config import ConfigError, Settings, load_settings
from s3proxy.gateway import reloaded
from s3proxy.metrics_files import Busy, Collector, fold_dead
from s3proxy.server import (
    DRAIN_NOW,
    HANDLED,
    STOP_NOW,
    Role,
    address,
    restart_only,
    serve_role,
)
from s3proxy.worker_count import METRICS_DIR_ENV

log = logging.getLogger("s3proxy")

SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}
CRASH_LOOP_SECONDS = 5.0
"""A process that exits with an error this soon after its start is not restarted: the whole
server stops with an error (a configuration or environment problem, which restarting cannot
fix). One killed by a signal (the OOM killer, an operator) is always replaced."""
KILL_MARGIN = 5.0
FOLD_RETRY = 1.0
"""Seconds between tries to fold a dead process's metrics files while scrapes hold them."""
PR_SET_PDEATHSIG = 1


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=HypercornConfig.backlog)


@dataclass(slots=True)
class _Children:
    roles: dict[int, str] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)
    slots: dict[int, int] = field(default_factory=dict)
    """pid → its slot of the shared bucket generation (a replacement reuses the dead one's)."""

    def free_slot(self, count: int) -> int:
        return min(set(range(count)) - set(self.slots.values()))

    def pids(self, role: str) -> list[int]:
        return [pid for pid, kind in self.roles.items() if kind == role]

    def signal(self, pids: list[int], signum: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        config_path: Path | None,
        workers: int,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.overrides: Mapping[str, Any] = overrides or {}
        """The command line's (``--shards``, ``--port`` …): a reload applies them again."""
        self.workers = workers
        self.children = _Children()
        self.s3_sock: socket.socket | None = None
        self.admin_sock: socket.socket | None = None
        self.draining = False
        self.stopping = False
        self.drain_deadline: float | None = None
        self.kill_deadline: float | None = None
        self.fold_deadline: float | None = None
        self.unfolded: list[int] = []
        """Reaped processes whose metrics files a scrape held: folded at ``fold_deadline``."""
        self.exit_code = 0

    def run(self) -> int:
        server = self.settings.server
        try:
            self.s3_sock = listen(server.host, server.port)
            self.admin_sock = listen(server.admin_host, server.admin_port)
        except OSError as exc:
            log.error("cannot serve: %s", exc)
            return 1
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        bucket_cache.share_between_processes(self.workers + 1)  # + the admin process
        key_turns.share_between_processes()  # a quota tenant's key writes take turns
        self._spawn("admin")
        for _ in range(self.workers):
            self._spawn("worker")
        log.info(
            "s3proxy serving S3 on %s with %d worker processes, admin on %s",
            address(server.host, server.port),
            self.workers,
            address(server.admin_host, server.admin_port),
        )
        while self.children.roles:
            self._wait_once()
        log.info("s3proxy stopped")
        return self.exit_code

    def _wait_once(self) -> None:
        deadlines = (self.drain_deadline, self.kill_deadline, self.fold_deadline, float("inf"))
        deadline = min(d for d in deadlines if d)
        if deadline == float("inf"):
            info = signal.sigwaitinfo(SIGNALS)
            signum: int | None = info.si_signo
        else:
            timeout = max(0.0, deadline - time.monotonic())
            waited = signal.sigtimedwait(SIGNALS, timeout)
            signum = waited.si_signo if waited is not None else None
        if signum is None:
            self._deadline_passed()
        elif signum == signal.SIGCHLD:
            self._reap()
        elif signum == signal.SIGHUP:
            self._reload_signal()
        else:
            self._shutdown_signal()

    def _reload_signal(self) -> None:
        """Pass SIGHUP to every process if the configuration file loads and may be taken
        (s3proxy.gateway.reloaded): a broken one is said once, here, where each process said it
        (the same error line once per worker, and once more for the admin process). The loaded
        configuration is kept: a process started after the reload (a dead worker's
        replacement) serves it, where it served the one the server started with (a key removed
        and reloaded away was accepted again by any worker replaced since)."""
        if self.config_path is not None:
            try:
                loaded = load_settings(self.config_path, overrides=self.overrides)
                kept = restart_only(self.settings, loaded)
                self.settings = reloaded(self.settings, loaded)
            except (ConfigError, ValueError, OSError) as exc:
                path = self.config_path
                log.error("reload of %s failed, keeping the running configuration: %s", path, exc)
                return
            if kept is not None:
                log.warning(kept)
        self.children.signal(list(self.children.roles), signal.SIGHUP)

    def _shutdown_signal(self) -> None:
        if not self.draining:
            self.draining = True
            self.children.signal(self.children.pids("admin"), signal.SIGTERM)  # /readyz: 503
            # the workers close each connection after its next answer
            self.children.signal(self.children.pids("worker"), DRAIN_NOW)
            delay = self.settings.server.drain_delay
            if delay > 0:
                log.info("draining: /readyz answers 503, still serving for %.1f s", delay)
                self.drain_deadline = time.monotonic() + delay
                return
        if not self.stopping:
            self._stop_workers()

    def _deadline_passed(self) -> None:
        now = time.monotonic()
        if self.fold_deadline is not None and now >= self.fold_deadline:
            self._fold_dead()
        if self.kill_deadline is not None and now >= self.kill_deadline:
            log.warning("shutdown timeout passed with processes still running: killing them")
            self.children.signal(list(self.children.roles), signal.SIGKILL)
            self.kill_deadline = None
        elif self.drain_deadline is not None and now >= self.drain_deadline and not self.stopping:
            self._stop_workers()

    def _stop_workers(self) -> None:
        self.stopping = True
        self.drain_deadline = None
        grace = self.settings.server.shutdown_timeout
        log.info("shutting down: no new connections, %.0f s for in-flight requests", grace)
        self.children.signal(self.children.pids("worker"), signal.SIGTERM)
        if self.s3_sock is not None:  # no connection may wait in a backlog nobody accepts
            self.s3_sock.close()
            self.s3_sock = None
        self.kill_deadline = time.monotonic() + grace + KILL_MARGIN
        self._stop_admin_when_alone()

    def _stop_admin_when_alone(self) -> None:
        if self.stopping and not self.children.pids("worker"):
            self.children.signal(self.children.pids("admin"), STOP_NOW)

    def _reap(self) -> None:
        self._reap_exited()
        if self.unfolded:  # after the replacements started: they never wait for a fold
            self._fold_dead()

    def _reap_exited(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            role = self.children.roles.pop(pid, None)
            started = self.children.started.pop(pid, 0.0)
            self.children.slots.pop(pid, None)
            if role is None:
                continue
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:  # the directory goes with the server: no fold to wait for
                self._stop_admin_when_alone()
                continue
            self.unfolded.append(pid)  # its counts stay, its files go
            if time.monotonic() - started < CRASH_LOOP_SECONDS and code > 0:
                log.error("%s process %d failed at start (exit %d): stopping", role, pid, code)
                self.exit_code = 1
                self.draining = True
                self._stop_workers()
                continue
            log.warning("%s process %d exited (status %d): starting another", role, pid, code)
            self._spawn(role)

    def _fold_dead(self) -> None:
        """Fold the reaped processes' metrics files (s3proxy.metrics_files) unless a scrape is
        reading them: then try again in :data:`FOLD_RETRY` s. Waiting for the scrape's lock
        here held every signal, and so every dead worker's replacement, for as long as a
        scrape ran (a hung one: for ever)."""
        if self.stopping:  # the directory goes with the server
            self.unfolded, self.fold_deadline = [], None
            return
        directory = os.environ[METRICS_DIR_ENV]
        waiting: list[int] = []
        for pid in self.unfolded:
            if pid in self.children.roles:  # the pid is reused: the files are the new one's
                continue
            try:
                fold_dead(pid, directory, wait=False)
            except Busy:
                waiting.append(pid)
            except OSError as exc:  # a full disk: its files stay, counted as before
                log.warning("metrics files of process %d kept: %s", pid, exc)
        self.unfolded = waiting
        self.fold_deadline = time.monotonic() + FOLD_RETRY if waiting else None

    def _spawn(self, role: str) -> None:
        slot = self.children.free_slot(self.workers + 1)
        parent = os.getpid()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)  # the child takes them later
        pid = os.fork()
        if pid == 0:
            _child(role, slot, parent, self)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        self.children.roles[pid] = role
        self.children.started[pid] = time.monotonic()
        self.children.slots[pid] = slot


def die_with_parent(parent: int, signum: int) -> None:
    """Have the kernel send ``signum`` to this process when ``parent`` dies; exit at once if it
    already has (it may have died between the fork and this call). Linux only: elsewhere (or
    if prctl fails) a child notices within a second (s3proxy.server's ``Role.parent``), where
    it served on until it was stopped."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent:
        os._exit(0)


def _child(role: str, slot: int, parent: int, supervisor: Supervisor) -> NoReturn:
    """The forked process: serve its role, then leave with os._exit (never return into the
    parent's stack, never run its atexit handlers)."""
    code = 1
    try:
        # STOP_NOW: stop accepting at once (freeing the port), in-flight requests finish.
        die_with_parent(parent, STOP_NOW)
        metrics_mmap.PARENT = parent  # no new metrics file once it is gone
        worker_count.leave_metrics_lock()  # the parent's alone: it goes with the parent
        bucket_cache.use_slot(slot)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS - HANDLED)  # serve_role takes HANDLED
        s3_sock, admin_sock = supervisor.s3_sock, supervisor.admin_sock
        assert s3_sock is not None and admin_sock is not None
        if role == "worker":
            admin_sock.close()
            job = Role(
                s3_fd=s3_sock.detach(),
                serve_admin=False,
                announce=False,
                draining=supervisor.draining,  # a replacement started during the drain
                supervised=True,
                parent=parent,
            )
        else:
            s3_sock.close()
            registry = CollectorRegistry()
            Collector(registry)  # type: ignore[no-untyped-call]
            job = Role(
                admin_fd=admin_sock.detach(),
                serve_s3=False,
                drain_delay=None,
                registry=registry,
                announce=False,
                draining=supervisor.draining,  # /readyz: 503 from its first answer
                supervised=True,
                parent=parent,
            )
        settings = supervisor.settings
        serving = serve_role(settings, supervisor.config_path, job, supervisor.overrides)
        code = event_loop.run(serving, settings.server.event_loop)
    except BaseException:
        log.exception("%s process %d failed", role, os.getpid())
    finally:
        logging.shutdown()
        os._exit(code)


def supervise(
    settings: Settings,
    config_path: Path | None,
    workers: int,
    overrides: Mapping[str, Any] | None = None,
) -> int:
    return Supervisor(settings, config_path, workers, overrides).run()
