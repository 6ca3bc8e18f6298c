"""A throwaway Ceph RGW (Pacific, Debian's packages) as a real S3 upstream on loopback.

Why: SeaweedFS lists in directory order, folds odd keys and stores bodies whose hash is wrong
(S3-NOTES.md), so byte-order listing, odd keys and integrity semantics must be proven against an
upstream that gets them right. Ceph RGW is the most S3-faithful open-source server that installs
here, but a Ceph cluster is several daemons. This module makes the smallest one that works:

    ceph-mon (1 monitor, msgr2 only, on a free loopback port, auth off)
    ceph-osd (1 OSD on memstore: RAM only, nothing on disk but its superblock)
    radosgw  (beast frontend on a free loopback port) + one S3 user with known keys

all three in the foreground (``-f``) as children of this process, each in its own session, with
config, monitor store, logs and admin sockets under one work directory, so that nothing touches
/etc/ceph or /var/lib/ceph and two clusters can run side by side. No mgr: nothing here needs one
(the price is that ``ceph -s`` shows no PG or usage figures).

Use from Python::

    ensure_installed()
    rgw = CephRGW.start(tmp_dir)
    try:
        s3 = rgw.client()
        ...
    finally:
        rgw.stop()

or by hand: ``python -m conformance.ceph_rgw start DIR`` (prints endpoint and keys, leaves the
daemons running) and ``python -m conformance.ceph_rgw stop DIR``.

Settings chosen for a 2-core / small-RAM machine (see :func:`_ceph_conf`):

- ``paxos propose interval = 0.01`` (default 1 s): every map change (``osd new``, each pool
  create / application enable, the OSD's own crush and device-class updates at boot) waits for a
  Paxos proposal; at the default the 14 pool commands alone took 13 s and the OSD's boot 2 s
  more, at 0.01 s the whole start-up takes 0.6–1.4 s (2 cores).
- memstore, ``memstore device bytes`` (default 2 GiB here): only the *reported* capacity; memory
  is used as data is stored, not reserved. The OSD's full ratios apply to it (nearfull 85 %,
  full 95 %): past them writes block, so raise it for benchmarks that store more.
  ``osd memory target`` is a BlueStore cache knob and does nothing for memstore.
- ``osd op num shards = 2`` (hdd default 5) and ``ms async op threads = 2`` (default 3): two
  cores cannot use more; fewer threads, less scheduling noise.
- ``rgw thread pool size = 16`` (default 512): beast runs requests as coroutines that yield on
  RADOS I/O, so a few threads carry many connections; 512 threads only cost stacks.
- RGW background work off: garbage collection, lifecycle, dynamic resharding, quota sync, usage
  and ops logs, multisite sync. None of it has anything to do within a test run (GC, for one,
  waits 2 h before collecting), and each is a thread waking up on two shared cores. Consequence:
  tails of deleted or overwritten objects > 4 MiB stay in memstore RAM until stop, and lifecycle
  rules are stored but never run.
- RGW pools created before radosgw starts, with 8 PGs each: created lazily by RGW they cost the
  first CreateBucket ~2.4 s (S3-NOTES.md). And radosgw starts only once the OSD is up: RADOS ops
  that find no OSD wait for the objecter's 5 s tick (start-up was 0.8 s or 5.5 s, by chance).
- ``tcp_nodelay=1`` on beast: without it a small GET on a kept-alive connection takes ~44 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from conformance.debian import (
    PackagesUnavailable,
    ensure_packages,
    install_command,
    missing_programs,
)
from conformance.s3client import boto3_client

LOG = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
POLL_INTERVAL = 0.05
LOG_TAIL_LINES = 25
START_TIMEOUT = 90.0

# `radosgw` needs ceph-common (radosgw-admin, the `ceph` CLI, python3-rados) and ceph-base
# (monmaptool); both come in as dependencies, ceph-common is named to say we use it directly.
CEPH_PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "ceph-common")
REQUIRED_BINARIES = ("radosgw", "ceph-mon", "ceph-osd", "monmaptool", "radosgw-admin", "ceph")
INSTALL_COMMAND = install_command(CEPH_PACKAGES)

RGW_POOLS = (
    ".rgw.root",
    "default.rgw.control",
    "default.rgw.meta",
    "default.rgw.log",
    "default.rgw.buckets.index",
    "default.rgw.buckets.data",
    "default.rgw.buckets.non-ec",
)
POOL_PG_NUM = 8

DEFAULT_ACCESS_KEY = "CEPHRGWTESTACCESSKEY"
DEFAULT_SECRET_KEY = "ceph-rgw-test-secret-key-0123456789abcdef"
DEFAULT_USER = "s3proxy-test"
DEFAULT_MEMSTORE_BYTES = 2 * 1024**3

MON_ID = "a"
OSD_ID = 0
RGW_NAME = "client.rgw.a"
STATE_FILE = "cluster.json"
SUN_PATH_MAX = 107  # bytes in a unix socket path, without the NUL


class CephUnavailable(PackagesUnavailable):
    """Ceph is not installed and cannot be installed here (not root, or not Debian/apt)."""


# --------------------------------------------------------------------------------------------
# Installation


def missing_binaries() -> list[str]:
    """The Ceph programs this module runs that are not on PATH."""
    return missing_programs(REQUIRED_BINARIES)


def ensure_installed(*, timeout: float = 900.0) -> None:
    """Install Ceph's mon, OSD and RGW from Debian's packages unless they are already there.

    Measured on Debian 12, 2 cores: update 1.6 s, install 22 s. Raises :class:`CephUnavailable`
    (with the install command) when not root or not on Debian, RuntimeError when apt fails.
    """
    try:
        ensure_packages(CEPH_PACKAGES, REQUIRED_BINARIES, timeout=timeout)
    except PackagesUnavailable as error:
        raise CephUnavailable(f"Ceph RGW {error}") from None


# --------------------------------------------------------------------------------------------
# Small helpers


def _free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago (all held until chosen)."""
    held: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"<cannot read {path}: {error}>"
    return "\n".join(text.splitlines()[-lines:])


def _http_answers(url: str) -> bool:
    """Does anything answer HTTP at ``url`` (any status)?"""
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """preexec_fn: SIGKILL this child when the process that started it dies (Linux prctl).

    So a pytest killed with SIGKILL (a CI timeout) does not leave a Ceph cluster behind. Note
    Linux ties it to the *thread* that forked: start clusters from a thread that outlives them.
    """
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _remaining(deadline: float) -> float:
    return max(0.5, deadline - time.monotonic())


def _python_for_ceph() -> str:
    """The interpreter the `ceph` CLI runs on: the one whose dist-packages has `rados`."""
    ceph = shutil.which("ceph")
    if ceph is not None:
        with contextlib.suppress(OSError), open(ceph, "rb") as script:
            first = script.readline().decode(errors="replace").strip()
            if first.startswith("#!"):
                interpreter = first[2:].split()[0]
                if interpreter.endswith("/env"):
                    interpreter = shutil.which(first[2:].split()[1]) or ""
                if interpreter and os.access(interpreter, os.X_OK):
                    return interpreter
    return "/usr/bin/python3"


# Run by the system Python (the venv's cannot import Debian's `rados`), in one librados session,
# each mon command checked: registers the OSD and says so on stdout (the caller then starts the
# OSD, which boots while this goes on), creates the RGW pools, then waits until the OSD is up.
# Arguments arrive as JSON on stdin. `connect()` waits for the monitor itself, so no polling.
#
# Why wait for the OSD before radosgw starts: a RADOS client whose first ops find no OSD up
# parks them until its objecter's next 5 s tick asks for a newer map; radosgw started early was
# ready in ~0.8 s or ~5.5 s depending on that race.
_MON_SETUP_SCRIPT = r"""
import json, sys, time
import rados

args = json.load(sys.stdin)
deadline = time.monotonic() + args["timeout"]
cluster = rados.Rados(conffile=args["conf"], name="client.admin")
cluster.connect(timeout=args["timeout"])

def command(**cmd):
    ret, out, err = cluster.mon_command(json.dumps(cmd), b"", timeout=args["timeout"])
    if ret != 0:
        sys.exit(f"mon command {cmd} failed: {ret} {err}")
    return out

command(prefix="osd new", uuid=args["osd_uuid"], id=args["osd_id"])
print("osd registered", flush=True)
for pool in args["pools"]:
    command(prefix="osd pool create", pool=pool, pg_num=args["pg_num"],
            pgp_num=args["pg_num"], pool_type="replicated")
for pool in args["pools"]:
    command(prefix="osd pool application enable", pool=pool, app="rgw",
            yes_i_really_mean_it=True)
print("pools created", flush=True)
while True:
    osds = json.loads(command(prefix="osd dump", format="json"))["osds"]
    if any(osd["osd"] == args["osd_id"] and osd["up"] for osd in osds):
        break
    if time.monotonic() > deadline:
        sys.exit("osd.%d not up before the deadline" % args["osd_id"])
    time.sleep(0.02)
print("osd up", flush=True)
cluster.shutdown()
"""


# --------------------------------------------------------------------------------------------
# The cluster


@dataclass
class _Daemon:
    """One Ceph daemon: ``kind`` is "mon", "osd" or "radosgw"; ``popen`` is None when the
    daemon was started by another process (``stop DIR`` from the command line)."""

    kind: str
    pid: int
    log_path: Path  # the daemon's own Ceph log (log file = …)
    out_path: Path  # its stdout/stderr
    popen: subprocess.Popen[bytes] | None = None

    def exited(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is not None
        return not _pid_alive(self.pid)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _pid_cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


class CephRGW:
    """A running single-node Ceph cluster with RGW; see the module docstring.

    Create with :meth:`start`; stop with :meth:`stop` or a ``with`` block.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        port: int,
        mon_port: int,
        access_key: str,
        secret_key: str,
    ) -> None:
        self.work_dir = work_dir
        self.conf_path = work_dir / "ceph.conf"
        self._port = port
        self.mon_port = mon_port
        self._access_key = access_key
        self._secret_key = secret_key
        self._daemons: list[_Daemon] = []
        self.startup_seconds = 0.0
        self.stop_seconds = 0.0
        self.timings: dict[str, float] = {}  # start-up phase → seconds since start

    # -- what a client needs ------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self._port}"

    @property
    def access_key(self) -> str:
        return self._access_key

    @property
    def secret_key(self) -> str:
        return self._secret_key

    @property
    def pids(self) -> dict[str, int]:
        """PID of each daemon still tracked: "mon", "osd", "radosgw"."""
        return {daemon.kind: daemon.pid for daemon in self._daemons}

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this RGW: path-style, us-east-1, SigV4, the test user's keys."""
        return boto3_client(self.endpoint, self._access_key, self._secret_key, **config)

    def log_text(self, daemon: str = "radosgw") -> str:
        """The Ceph log of ``daemon`` ("radosgw", "osd" or "mon") so far, then its stderr."""
        paths = {
            "radosgw": (self.work_dir / "log" / f"{RGW_NAME}.log", "radosgw.out"),
            "osd": (self.work_dir / "log" / f"osd.{OSD_ID}.log", "osd.out"),
            "mon": (self.work_dir / "log" / f"mon.{MON_ID}.log", "mon.out"),
        }
        log_path, out_name = paths[daemon]
        parts = []
        for path in (log_path, self.work_dir / "log" / out_name):
            with contextlib.suppress(OSError):
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def log_tails(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of every daemon's log and stderr, for an error message."""
        chunks = []
        for path in sorted((self.work_dir / "log").glob("*")):
            if path.is_file() and path.stat().st_size:
                chunks.append(f"--- {path} ---\n{_tail(path, lines)}")
        return "\n".join(chunks)

    def rss(self) -> dict[str, int]:
        """Current resident set size in bytes of each running daemon."""
        sizes: dict[str, int] = {}
        for daemon in self._daemons:
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[daemon.kind] = int(line.split()[1]) * 1024
        return sizes

    # -- start --------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        work_dir: Path,
        *,
        timeout: float = START_TIMEOUT,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        memstore_bytes: int = DEFAULT_MEMSTORE_BYTES,
        extra_config: dict[str, dict[str, str]] | None = None,
        die_with_parent: bool = True,
    ) -> CephRGW:
        """Create and start a fresh cluster in ``work_dir``; return once a signed ListBuckets
        with the user's keys succeeds.

        Whatever an earlier cluster left in ``work_dir`` is replaced. ``extra_config`` adds or
        overrides ceph.conf options per section (``{"client.rgw.a": {"debug rgw": "20"}}``).
        ``die_with_parent``: the daemons get SIGKILL if this process dies without stopping them.
        On failure everything started is stopped and the error carries the daemons' log tails.
        """
        missing = missing_binaries()
        if missing:
            raise CephUnavailable(f"missing {missing}; run ensure_installed() or {INSTALL_COMMAND}")
        started = time.monotonic()
        deadline = started + timeout
        work_dir = Path(work_dir).resolve()
        work_dir.mkdir(parents=True, exist_ok=True)
        if (work_dir / STATE_FILE).exists() and cls.attach(work_dir).pids:
            raise RuntimeError(
                f"a Ceph cluster is still running in {work_dir}: stop it first"
                f" (python -m conformance.ceph_rgw stop {work_dir})"
            )
        for name in ("mon", "osd", "rgw", "run", "log", "crash"):
            shutil.rmtree(work_dir / name, ignore_errors=True)
            (work_dir / name).mkdir()
        mon_port, port = _free_ports(2)
        rgw = cls(
            work_dir, port=port, mon_port=mon_port, access_key=access_key, secret_key=secret_key
        )
        try:
            rgw._bootstrap(started, deadline, memstore_bytes, extra_config or {}, die_with_parent)
        except BaseException:
            rgw.stop()
            raise
        rgw.startup_seconds = time.monotonic() - started
        return rgw

    def _mark(self, started: float, phase: str) -> None:
        self.timings[phase] = round(time.monotonic() - started, 3)

    def _bootstrap(
        self,
        started: float,
        deadline: float,
        memstore_bytes: int,
        extra_config: dict[str, dict[str, str]],
        die_with_parent: bool,
    ) -> None:
        fsid = str(uuid.uuid4())
        osd_uuid = str(uuid.uuid4())
        self.conf_path.write_text(
            _ceph_conf(self.work_dir, fsid, self.mon_port, self._port, memstore_bytes, extra_config)
        )
        conf = str(self.conf_path)
        mon_addr = f"[v2:{LOOPBACK}:{self.mon_port}]"
        monmap = self.work_dir / "monmap"
        self._run(
            [
                "monmaptool",
                "--create",
                "--clobber",
                "--fsid",
                fsid,
                "--addv",
                MON_ID,
                mon_addr,
                str(monmap),
            ],
            deadline,
        )
        self._run(
            [
                "ceph-mon",
                "--no-mon-config",
                "-c",
                conf,
                "-i",
                MON_ID,
                "--mkfs",
                "--monmap",
                str(monmap),
            ],
            deadline,
        )
        (self.work_dir / "osd" / str(OSD_ID)).mkdir()
        self._run(
            [
                "ceph-osd",
                "--no-mon-config",
                "-c",
                conf,
                "-i",
                str(OSD_ID),
                "--mkfs",
                "--osd-uuid",
                osd_uuid,
            ],
            deadline,
        )
        self._mark(started, "mkfs")

        self._spawn(
            "mon",
            ["ceph-mon", "-f", "--no-mon-config", "-c", conf, "-i", MON_ID],
            f"mon.{MON_ID}",
            die_with_parent,
        )
        setup = json.dumps(
            {
                "conf": conf,
                "timeout": max(1, int(_remaining(deadline))),
                "osd_uuid": osd_uuid,
                "osd_id": OSD_ID,
                "pools": RGW_POOLS,
                "pg_num": POOL_PG_NUM,
            }
        )
        helper = self._setup_helper(setup)
        try:
            self._expect(helper, "osd registered", deadline)
            self._mark(started, "mon up, osd registered")
            self._spawn(
                "osd",
                ["ceph-osd", "-f", "--no-mon-config", "-c", conf, "-i", str(OSD_ID)],
                f"osd.{OSD_ID}",
                die_with_parent,
            )
            self._expect(helper, "pools created", deadline)
            self._mark(started, "pools created")
            self._expect(helper, "osd up", deadline)
            self._mark(started, "osd up")
        finally:
            helper.finish()
        self._spawn(
            "radosgw",
            ["radosgw", "-f", "--no-mon-config", "-c", conf, "-n", RGW_NAME],
            RGW_NAME,
            die_with_parent,
        )
        self._wait(deadline, "the S3 port to answer", lambda: _http_answers(self.endpoint + "/"))
        self._mark(started, "radosgw answers")

        # After radosgw is up, not before: both would create the default zone/zonegroup in
        # .rgw.root on first use, and two writers race.
        self._run(
            [
                "radosgw-admin",
                "--no-mon-config",
                "-c",
                conf,
                "user",
                "create",
                "--uid",
                DEFAULT_USER,
                "--display-name",
                DEFAULT_USER,
                "--access-key",
                self._access_key,
                "--secret-key",
                self._secret_key,
            ],
            deadline,
        )
        self._mark(started, "user created")

        probe = self.client(
            connect_timeout=1, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"}
        )
        last_error: list[BaseException] = []

        def listed() -> bool:
            try:
                probe.list_buckets()
                return True
            except Exception as error:  # not ready yet: poll again
                last_error[:] = [error]
                return False

        self._wait(deadline, "a signed ListBuckets", listed, last_error)
        self._mark(started, "signed ListBuckets ok")
        self._write_state()

    def _setup_helper(self, arguments: str) -> _Helper:
        """Start :data:`_MON_SETUP_SCRIPT`; its stderr goes to log/setup.err."""
        err = (self.work_dir / "log" / "setup.err").open("w")
        try:
            popen = subprocess.Popen(
                [_python_for_ceph(), "-c", _MON_SETUP_SCRIPT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=_daemon_env(),
                cwd=self.work_dir,
                start_new_session=True,
            )
        finally:
            err.close()
        return _Helper(popen, arguments)

    def _expect(self, helper: _Helper, line: str, deadline: float) -> None:
        """Wait for ``line`` from the set-up helper, watching the daemons and the deadline."""

        def arrived() -> bool:
            if line in helper.lines:
                return True
            if helper.done.is_set():
                raise RuntimeError(
                    f"set-up helper exited ({helper.popen.wait()}) before {line!r};"
                    f"\n{self.log_tails()}"
                )
            return False

        self._wait(deadline, line, arrived)

    def _run(self, argv: list[str], deadline: float, stdin: str | None = None) -> None:
        """Run a set-up command to completion; on failure raise with its output and the logs."""
        env = _daemon_env()
        try:
            result = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                env=env,
                cwd=self.work_dir,
                timeout=_remaining(deadline),
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise TimeoutError(
                f"{argv[0]} did not finish before the start deadline ({error.stderr!r});"
                f"\n{self.log_tails()}"
            ) from None
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:3])} … failed ({result.returncode}):\n{result.stdout[-2000:]}"
                f"\n{result.stderr[-2000:]}\n{self.log_tails()}"
            )

    def _spawn(self, kind: str, argv: list[str], ceph_name: str, die_with_parent: bool) -> None:
        log_dir = self.work_dir / "log"
        out_path = log_dir / f"{kind}.out"
        env = _daemon_env()
        with out_path.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.work_dir,
                start_new_session=True,
                preexec_fn=_die_with_parent if die_with_parent else None,
            )
        self._daemons.append(
            _Daemon(kind, popen.pid, log_dir / f"{ceph_name}.log", out_path, popen)
        )

    def _wait(
        self,
        deadline: float,
        what: str,
        ready: Callable[[], bool],
        last_error: list[BaseException] | None = None,
    ) -> None:
        """Poll ``ready()`` until true; raise early if a daemon died, or at the deadline."""
        while True:
            for daemon in self._daemons:
                if daemon.exited():
                    raise RuntimeError(
                        f"{daemon.kind} (pid {daemon.pid}) exited while waiting for {what};"
                        f"\n{self.log_tails()}"
                    )
            if ready():
                return
            if time.monotonic() >= deadline:
                detail = f" (last error: {last_error[0]})" if last_error else ""
                raise TimeoutError(
                    f"Ceph RGW in {self.work_dir}: still waiting for {what} at the deadline"
                    f"{detail};"
                    f"\n{self.log_tails()}"
                )
            time.sleep(POLL_INTERVAL)

    def _write_state(self) -> None:
        state = {
            "endpoint": self.endpoint,
            "port": self._port,
            "mon_port": self.mon_port,
            "access_key": self._access_key,
            "secret_key": self._secret_key,
            "daemons": [
                {"kind": d.kind, "pid": d.pid, "log": str(d.log_path), "out": str(d.out_path)}
                for d in self._daemons
            ],
        }
        (self.work_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def attach(cls, work_dir: Path) -> CephRGW:
        """The cluster that ``start`` (e.g. from the command line) left running in ``work_dir``.

        Only daemons whose command line still names this work dir's ceph.conf are tracked, so a
        reused PID is never signalled.
        """
        work_dir = Path(work_dir).resolve()
        state = json.loads((work_dir / STATE_FILE).read_text())
        rgw = cls(
            work_dir,
            port=int(state["port"]),
            mon_port=int(state["mon_port"]),
            access_key=state["access_key"],
            secret_key=state["secret_key"],
        )
        conf = str(rgw.conf_path)
        for entry in state["daemons"]:
            pid = int(entry["pid"])
            if conf in _pid_cmdline(pid):
                rgw._daemons.append(
                    _Daemon(entry["kind"], pid, Path(entry["log"]), Path(entry["out"]))
                )
        return rgw

    # -- stop ---------------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every daemon by PID, newest first (radosgw, OSD, monitor): SIGTERM, wait up to
        ``timeout`` s, then SIGKILL (and its process group). Idempotent.

        Order matters: an OSD whose monitor is gone waits 5 s to be marked down, and radosgw
        shutting down still talks to the OSD.
        """
        began = time.monotonic()
        while self._daemons:
            daemon = self._daemons.pop()
            _stop_daemon(daemon, timeout)
        self.stop_seconds = time.monotonic() - began
        with contextlib.suppress(OSError):
            (self.work_dir / STATE_FILE).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _daemon_env() -> dict[str, str]:
    """This process's environment without what would point Ceph at another cluster."""
    return {k: v for k, v in os.environ.items() if k not in ("CEPH_ARGS", "CEPH_CONF")}


class _Helper:
    """The set-up script as a child process; a thread collects its stdout lines."""

    def __init__(self, popen: subprocess.Popen[str], arguments: str) -> None:
        self.popen = popen
        self.lines: list[str] = []
        self.done = threading.Event()
        assert popen.stdin is not None
        popen.stdin.write(arguments)
        popen.stdin.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        try:
            for line in self.popen.stdout:
                self.lines.append(line.strip())
        finally:
            self.done.set()

    def finish(self) -> None:
        """Kill it if still running (a failed start), reap it, close its pipe."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        self._reader.join(5.0)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def _stop_daemon(daemon: _Daemon, timeout: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        if daemon.exited():
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.pid, sig)
        if sig == signal.SIGKILL:
            LOG.warning("%s (pid %d) ignored SIGTERM for %.0f s", daemon.kind, daemon.pid, timeout)
        limit = time.monotonic() + wait
        while not daemon.exited() and time.monotonic() < limit:
            time.sleep(0.02)
    # Ceph daemons in -f mode do not fork, but kill anything left in the daemon's own session.
    # While the leader is an unreaped zombie its PID (and so the group ID) cannot be reused.
    if daemon.popen is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon.popen.wait()


# --------------------------------------------------------------------------------------------
# ceph.conf


def _ceph_conf(
    work_dir: Path,
    fsid: str,
    mon_port: int,
    rgw_port: int,
    memstore_bytes: int,
    extra: dict[str, dict[str, str]],
) -> str:
    run_dir = work_dir / "run"
    # Admin sockets (for `ceph daemon …`) only where the path fits a unix socket address.
    longest = run_dir / f"{RGW_NAME}.asok"
    admin_socket = str(run_dir / "$name.asok") if len(str(longest)) <= SUN_PATH_MAX else ""
    sections: dict[str, dict[str, str]] = {
        "global": {
            "fsid": fsid,
            "mon host": f"v2:{LOOPBACK}:{mon_port}",
            "mon initial members": MON_ID,
            "public addr": LOOPBACK,
            "cluster addr": LOOPBACK,
            "ms bind msgr1": "false",
            "ms bind ipv6": "false",
            "ms async op threads": "2",
            # cephx off: one process tree on loopback, keys would only cost time
            "auth cluster required": "none",
            "auth service required": "none",
            "auth client required": "none",
            "mon warn on insecure global id reclaim allowed": "false",
            "keyring": "/dev/null",
            "run dir": str(run_dir),
            "crash dir": str(work_dir / "crash"),
            "log file": str(work_dir / "log" / "$name.log"),
            "admin socket": "",
            "pid file": "",
            "osd pool default size": "1",
            "osd pool default min size": "1",
            "osd pool default pg num": str(POOL_PG_NUM),
            "osd pool default pgp num": str(POOL_PG_NUM),
            "osd pool default pg autoscale mode": "off",
            "osd crush chooseleaf type": "0",
            "mon allow pool size one": "true",
            "mon allow pool delete": "true",
            "mon warn on pool no redundancy": "false",
            "mon max pg per osd": "1000",
        },
        "mon": {
            "mon data": str(work_dir / "mon" / "$id"),
            "admin socket": admin_socket,
            "paxos propose interval": "0.01",
            "paxos min wait": "0.001",
            # a nearly full CI disk must not stop the monitor (default: shut down below 5 %)
            "mon data avail warn": "2",
            "mon data avail crit": "1",
        },
        f"mon.{MON_ID}": {"public addrv": f"v2:{LOOPBACK}:{mon_port}"},
        "osd": {
            "osd data": str(work_dir / "osd" / "$id"),
            "admin socket": admin_socket,
            "osd objectstore": "memstore",
            "memstore device bytes": str(memstore_bytes),
            "osd op num shards": "2",
            "osd op num threads per shard": "1",
        },
        RGW_NAME: {
            "admin socket": admin_socket,
            "rgw data": str(work_dir / "rgw"),
            "rgw frontends": f"beast endpoint={LOOPBACK}:{rgw_port} tcp_nodelay=1",
            # radosgw's built-in defaults demand cephx and a "secure" mon connection
            "auth client required": "none",
            "ms mon client mode": "crc",
            "rgw thread pool size": "16",
            "rgw enable gc threads": "false",
            "rgw enable lc threads": "false",
            "rgw dynamic resharding": "false",
            "rgw enable quota threads": "false",
            "rgw enable usage log": "false",
            "rgw enable ops log": "false",
            "rgw run sync thread": "false",
            "rgw exit timeout secs": "5",
        },
    }
    for section, options in extra.items():
        sections.setdefault(section, {}).update(options)
    lines = [f"# written by conformance/ceph_rgw.py for {work_dir}"]
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.ceph_rgw",
        description="Start or stop a throwaway single-node Ceph RGW on loopback.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="install the Debian packages if missing (root)")
    start = sub.add_parser("start", help="start a cluster in DIR and leave it running")
    start.add_argument("dir", type=Path)
    start.add_argument("--timeout", type=float, default=START_TIMEOUT)
    start.add_argument("--memstore-bytes", type=int, default=DEFAULT_MEMSTORE_BYTES)
    stop = sub.add_parser("stop", help="stop the cluster running in DIR")
    stop.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.command == "install":
        began = time.monotonic()
        ensure_installed()
        print(f"ceph packages present ({time.monotonic() - began:.1f} s)")
        return 0
    if args.command == "start":
        ensure_installed()
        rgw = CephRGW.start(
            args.dir,
            timeout=args.timeout,
            memstore_bytes=args.memstore_bytes,
            die_with_parent=False,
        )
        print(f"endpoint    {rgw.endpoint}")
        print(f"access key  {rgw.access_key}")
        print(f"secret key  {rgw.secret_key}")
        print("region      us-east-1 (path-style addressing)")
        print(f"ready in    {rgw.startup_seconds:.1f} s; pids {rgw.pids}")
        print(f"logs        {rgw.work_dir / 'log'}")
        print(f"stop with   {sys.executable} -m conformance.ceph_rgw stop {rgw.work_dir}")
        return 0
    try:
        rgw = CephRGW.attach(args.dir)
    except FileNotFoundError:
        print(f"no running cluster recorded in {args.dir}", file=sys.stderr)
        return 1
    pids = rgw.pids
    rgw.stop()
    print(f"stopped {pids} in {rgw.stop_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
