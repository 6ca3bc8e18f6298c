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

Its parts: :mod:`conformance.ceph_install` (Debian's packages), :mod:`conformance.ceph_conf`
(the ceph.conf, and why each setting suits a 2-core / small-RAM machine),
:mod:`conformance.ceph_processes` (the daemons and set-up commands as processes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from conformance.ceph_conf import (
    DEFAULT_MEMSTORE_BYTES,
    LOOPBACK,
    MON_ID,
    OSD_ID,
    POOL_PG_NUM,
    RGW_NAME,
    RGW_POOLS,
    ceph_conf,
)
from conformance.ceph_install import (
    INSTALL_COMMAND,
    CephUnavailable,
    ensure_installed,
    missing_binaries,
)
from conformance.ceph_processes import (
    LOG_TAIL_LINES,
    Daemon,
    Daemons,
    http_answers,
    pid_cmdline,
    remaining,
)
from conformance.ports import free_ports
from conformance.s3client import boto3_client

__all__ = ["CephRGW", "CephUnavailable", "ensure_installed", "missing_binaries"]

START_TIMEOUT = 90.0

DEFAULT_ACCESS_KEY = "CEPHRGWTESTACCESSKEY"
DEFAULT_SECRET_KEY = "ceph-rgw-test-secret-key-0123456789abcdef"
DEFAULT_USER = "s3proxy-test"
STATE_FILE = "cluster.json"


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
        self._daemons = Daemons(work_dir)
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
        return {daemon.kind: daemon.pid for daemon in self._daemons.running}

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
        return self._daemons.log_tails(lines)

    def rss(self) -> dict[str, int]:
        """Current resident set size in bytes of each running daemon."""
        sizes: dict[str, int] = {}
        for daemon in self._daemons.running:
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
        mon_port, port = free_ports(2)
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
            ceph_conf(self.work_dir, fsid, self.mon_port, self._port, memstore_bytes, extra_config)
        )
        conf = str(self.conf_path)
        mon_addr = f"[v2:{LOOPBACK}:{self.mon_port}]"
        monmap = self.work_dir / "monmap"
        self._daemons.run(
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
        self._daemons.run(
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
        self._daemons.run(
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

        self._daemons.spawn(
            "mon",
            ["ceph-mon", "-f", "--no-mon-config", "-c", conf, "-i", MON_ID],
            f"mon.{MON_ID}",
            die_with_parent,
        )
        setup = json.dumps(
            {
                "conf": conf,
                "timeout": max(1, int(remaining(deadline))),
                "osd_uuid": osd_uuid,
                "osd_id": OSD_ID,
                "pools": RGW_POOLS,
                "pg_num": POOL_PG_NUM,
            }
        )
        helper = self._daemons.setup_helper(setup)
        try:
            self._daemons.expect(helper, "osd registered", deadline)
            self._mark(started, "mon up, osd registered")
            self._daemons.spawn(
                "osd",
                ["ceph-osd", "-f", "--no-mon-config", "-c", conf, "-i", str(OSD_ID)],
                f"osd.{OSD_ID}",
                die_with_parent,
            )
            self._daemons.expect(helper, "pools created", deadline)
            self._mark(started, "pools created")
            self._daemons.expect(helper, "osd up", deadline)
            self._mark(started, "osd up")
        finally:
            helper.finish()
        self._daemons.spawn(
            "radosgw",
            ["radosgw", "-f", "--no-mon-config", "-c", conf, "-n", RGW_NAME],
            RGW_NAME,
            die_with_parent,
        )
        self._daemons.wait(
            deadline, "the S3 port to answer", lambda: http_answers(self.endpoint + "/")
        )
        self._mark(started, "radosgw answers")

        # After radosgw is up, not before: both would create the default zone/zonegroup in
        # .rgw.root on first use, and two writers race.
        self._daemons.run(
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

        self._daemons.wait(deadline, "a signed ListBuckets", listed, last_error)
        self._mark(started, "signed ListBuckets ok")
        self._write_state()

    def _write_state(self) -> None:
        state = {
            "endpoint": self.endpoint,
            "port": self._port,
            "mon_port": self.mon_port,
            "access_key": self._access_key,
            "secret_key": self._secret_key,
            "daemons": [
                {"kind": d.kind, "pid": d.pid, "log": str(d.log_path), "out": str(d.out_path)}
                for d in self._daemons.running
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
            if conf in pid_cmdline(pid):
                rgw._daemons.running.append(
                    Daemon(entry["kind"], pid, Path(entry["log"]), Path(entry["out"]))
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
        self._daemons.stop(timeout)
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
