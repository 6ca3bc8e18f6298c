"""The processes of the throwaway Ceph cluster (:mod:`conformance.ceph_rgw`): set-up commands
run to completion, daemons started in the foreground in their own sessions and watched while
the cluster waits for something, and stopped newest first; the set-up script that talks to the
monitor through librados.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger("conformance.ceph_rgw")

POLL_INTERVAL = 0.05
LOG_TAIL_LINES = 25


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"<cannot read {path}: {error}>"
    return "\n".join(text.splitlines()[-lines:])


def http_answers(url: str) -> bool:
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


def remaining(deadline: float) -> float:
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
MON_SETUP_SCRIPT = r"""
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


@dataclass
class Daemon:
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


def pid_cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _daemon_env() -> dict[str, str]:
    """This process's environment without what would point Ceph at another cluster."""
    return {k: v for k, v in os.environ.items() if k not in ("CEPH_ARGS", "CEPH_CONF")}


class SetupHelper:
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


def stop_daemon(daemon: Daemon, timeout: float) -> None:
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


class Daemons:
    """The cluster's daemons, newest last, and the set-up commands, all run in ``work_dir``
    with their output under ``work_dir/log``."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.running: list[Daemon] = []

    def log_tails(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of every daemon's log and stderr, for an error message."""
        chunks = []
        for path in sorted((self.work_dir / "log").glob("*")):
            if path.is_file() and path.stat().st_size:
                chunks.append(f"--- {path} ---\n{_tail(path, lines)}")
        return "\n".join(chunks)

    def setup_helper(self, arguments: str) -> SetupHelper:
        """Start :data:`MON_SETUP_SCRIPT`; its stderr goes to log/setup.err."""
        err = (self.work_dir / "log" / "setup.err").open("w")
        try:
            popen = subprocess.Popen(
                [_python_for_ceph(), "-c", MON_SETUP_SCRIPT],
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
        return SetupHelper(popen, arguments)

    def expect(self, helper: SetupHelper, line: str, deadline: float) -> None:
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

        self.wait(deadline, line, arrived)

    def run(self, argv: list[str], deadline: float, stdin: str | None = None) -> None:
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
                timeout=remaining(deadline),
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

    def spawn(self, kind: str, argv: list[str], ceph_name: str, die_with_parent: bool) -> None:
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
        self.running.append(Daemon(kind, popen.pid, log_dir / f"{ceph_name}.log", out_path, popen))

    def wait(
        self,
        deadline: float,
        what: str,
        ready: Callable[[], bool],
        last_error: list[BaseException] | None = None,
    ) -> None:
        """Poll ``ready()`` until true; raise early if a daemon died, or at the deadline."""
        while True:
            for daemon in self.running:
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

    def stop(self, timeout: float) -> None:
        """SIGTERM each daemon, newest first, SIGKILL after ``timeout`` s (why the order
        matters: :meth:`conformance.ceph_rgw.CephRGW.stop`)."""
        while self.running:
            daemon = self.running.pop()
            stop_daemon(daemon, timeout)
