"""Operating it: reloads, orphaned workers and metrics files (wave 18, D).

- SIGHUP loads the file under the command line's overrides: ``serve --config F --shards 256``
  over a file naming another count refused every reload ("layout changed").
- ``server.max_stalled_answers`` is applied by a reload (it was read at start only), and a
  lowered bound ends the answers past it at the next look; a changed setting only a restart
  applies (a port, a timeout the listeners took) is said, once, where it was kept silently.
- A supervisor's child leaves the metrics directory's lock to the supervisor, so it goes with
  a ``kill -9`` of it; once the supervisor is gone a child opens no new metrics file (a new
  server may have claimed the directory), and stops even where no parent-death signal came.
- Where ``posix_fallocate`` is missing or unsupported (musl on a filesystem without it), a
  metrics file's space is taken by writing zeros: every file was refused, and /metrics empty.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3proxy import metrics_mmap, server, worker_count
from s3proxy.config import load_settings
from s3proxy.gateway import Gateway
from s3proxy.metrics_mmap import AllocatedDict, reserve
from s3proxy.stalled_answers import MIN_STALL, STALLS, Stalls, Waiter
from s3proxy.supervisor import Supervisor, _Children

CONFIG: dict[str, Any] = {
    "server": {"secret": "s" * 32, "max_stalled_answers": 32},
    "upstreams": {"u": {"endpoint": "http://127.0.0.1:9", "access_key": "a", "secret_key": "b"}},
    "tenants": {"t": {"keys": [{"access_key": "AKTENANT", "secret_key": "t" * 20}]}},
    "layout": {"shards": 16},
}
SHARDS_FLAG = {"layout": {"shards": 256}}
"""``--shards 256``, as s3proxy.cli hands it over."""


@pytest.fixture(autouse=True)
def _stall_bound_kept() -> Iterator[None]:
    """A reload configures the process-wide STALLS: put its bound back, else tests after these
    in the same process find answers bounded (test_w12h_slow_clients' fake transport then
    failed, but only when it ran after them)."""
    saved = STALLS.limit
    yield
    STALLS.configure(saved)


def _config(tmp_path: Path, **server: Any) -> Path:
    path = tmp_path / "s3proxy.yaml"
    document = {**CONFIG, "server": {**CONFIG["server"], **server}}
    path.write_text(yaml.safe_dump(document))
    return path


def _hangup(supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The signals the supervisor sends its children for one SIGHUP, taken as it takes them."""
    sent: list[int] = []
    monkeypatch.setattr(_Children, "signal", lambda self, pids, signum: sent.append(signum))
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        signal.pthread_kill(threading.get_ident(), signal.SIGHUP)  # this thread only
        supervisor._wait_once()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return sent


def test_a_reload_keeps_the_command_lines_shard_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path)
    settings = load_settings(config, overrides=SHARDS_FLAG)
    supervisor = Supervisor(settings, config, 2, SHARDS_FLAG)
    with caplog.at_level(logging.ERROR, logger="s3proxy"):
        assert _hangup(supervisor, monkeypatch) == [signal.SIGHUP]
    assert caplog.records == []
    assert supervisor.settings.layout.shards == 256


def test_a_reload_without_the_flag_would_change_the_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The control: the same file without the override is a layout change, refused."""
    config = _config(tmp_path)
    supervisor = Supervisor(load_settings(config, overrides=SHARDS_FLAG), config, 2)
    with caplog.at_level(logging.ERROR, logger="s3proxy"):
        assert _hangup(supervisor, monkeypatch) == []
    assert "layout changed" in caplog.records[0].getMessage()


def test_a_process_reload_applies_the_overrides_and_the_stall_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path)
    gateway = Gateway(load_settings(config, overrides=SHARDS_FLAG))
    saved = STALLS.limit
    try:
        STALLS.configure(32)
        _config(tmp_path, max_stalled_answers=5)
        with caplog.at_level(logging.INFO, logger="s3proxy"):
            server._reload(gateway, config, SHARDS_FLAG, server.Role())
        assert gateway.runtime.settings.server.max_stalled_answers == 5
        assert gateway.runtime.settings.layout.shards == 256
        assert STALLS.limit == 5
        assert [r.getMessage() for r in caplog.records] == [f"configuration reloaded from {config}"]
    finally:
        STALLS.configure(saved)
        asyncio.run(gateway.close())


@pytest.mark.parametrize("supervised", [False, True])
def test_a_reload_says_what_only_a_restart_applies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, supervised: bool
) -> None:
    """Said by the one process of a server, or once by a supervisor, never by its children."""
    config = _config(tmp_path)
    gateway = Gateway(load_settings(config))
    try:
        _config(tmp_path, port=9100, shutdown_timeout=5)
        with caplog.at_level(logging.WARNING, logger="s3proxy"):
            server._reload(gateway, config, {}, server.Role(supervised=supervised))
        said = [r.getMessage() for r in caplog.records]
        restart = "server.port, server.shutdown_timeout changed: needs a restart to apply"
        assert said == ([] if supervised else [restart])
    finally:
        asyncio.run(gateway.close())


def test_a_supervisor_says_what_only_a_restart_applies_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path)
    supervisor = Supervisor(load_settings(config), config, 2)
    _config(tmp_path, keep_alive_timeout=300)
    with caplog.at_level(logging.WARNING, logger="s3proxy"):
        assert _hangup(supervisor, monkeypatch) == [signal.SIGHUP]
    restart = "server.keep_alive_timeout changed: needs a restart to apply"
    assert [r.getMessage() for r in caplog.records] == [restart]


class Transport:
    """An answer's connection whose client takes nothing."""

    def __init__(self) -> None:
        self.ended = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def get_write_buffer_size(self) -> int:
        return 65536

    def abort(self) -> None:
        self.ended = True


def test_a_lowered_bound_ends_the_answers_past_it() -> None:
    async def main() -> list[bool]:
        stalls = Stalls()
        stalls.configure(4)
        waiters = [Waiter(("192.0.2.1", port), Transport()) for port in range(3)]
        for waiter in waiters:
            waiter.since = 0.0
            stalls.note(waiter)
        assert stalls._timer is None  # 3 of 4: nothing to look at
        stalls.configure(1)
        assert stalls._timer is not None  # looked at soon, not at the next answer's wait
        stalls.check(now=MIN_STALL)
        return [waiter.transport.ended for waiter in waiters]

    assert sorted(asyncio.run(main())) == [False, True, True]


def test_a_bound_of_zero_lets_every_answer_go() -> None:
    async def main() -> tuple[int, bool]:
        stalls = Stalls()
        stalls.configure(1)
        waiters = [Waiter(("192.0.2.1", port), Transport()) for port in range(2)]
        for waiter in waiters:
            waiter.since = 0.0
            stalls.note(waiter)
        stalls.configure(0)
        return len(stalls.noted), stalls._timer is None

    assert asyncio.run(main()) == (0, True)


def test_a_child_leaves_the_directory_lock_to_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor takes the lock, forks, and is killed: its child (still running, as the
    children of a ``kill -9``'d supervisor finish their requests) no longer holds the lock."""
    monkeypatch.setattr(worker_count, "_OWNER", None)
    monkeypatch.setenv(worker_count.METRICS_DIR_ENV, str(tmp_path))
    worker_count.claim_metrics_directory(tmp_path)
    parent_lock = worker_count._OWNER
    assert parent_lock is not None
    reader, writer = os.pipe()  # the child's word
    held, release = os.pipe()  # the parent's: it has looked
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        said = b"fail"
        try:
            worker_count.leave_metrics_lock()
            said = b"left"
        finally:
            os.write(writer, said)
            os.read(held, 1)  # stays alive until the parent has looked
            os._exit(0)
    try:
        assert os.read(reader, 4) == b"left"
        os.close(parent_lock)  # the supervisor's death
        worker_count._OWNER = None
        probe = os.open(tmp_path / worker_count.OWNER_LOCK, os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free while the child runs
        finally:
            os.close(probe)
    finally:
        os.write(release, b"x")
        os.waitpid(child, 0)
        for fd in (reader, writer, held, release):
            os.close(fd)


def test_an_orphaned_child_opens_no_metrics_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(metrics_mmap, "PARENT", os.getppid() + 1)  # not its parent any more
    path = tmp_path / "counter_4242.db"
    with caplog.at_level(logging.WARNING, logger="s3proxy"):
        orphaned = AllocatedDict(str(path))
        orphaned.write_value("k", 3.0, 0.0)
        assert orphaned.read_value("k") == (3.0, 0.0)
    assert not path.exists()
    assert caplog.records == []  # not a full disk: nothing to warn of

    monkeypatch.setattr(metrics_mmap, "PARENT", os.getppid())
    kept = AllocatedDict(str(path))
    kept.write_value("k", 3.0, 0.0)
    kept.close()  # type: ignore[no-untyped-call]
    assert path.exists()


def _unsupported(fd: int, offset: int, length: int) -> None:
    raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))


@pytest.mark.parametrize("how", ["unsupported", "missing"])
def test_without_fallocate_the_space_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "missing":
        monkeypatch.delattr(os, "posix_fallocate")
    else:
        monkeypatch.setattr(os, "posix_fallocate", _unsupported)
    path = tmp_path / "counter_1.db"
    reserve(str(path), 64 * 1024)
    assert path.stat().st_size == 64 * 1024
    assert path.stat().st_blocks * 512 >= 64 * 1024  # not sparse: the space is taken
    path.write_bytes(b"samples" + bytes(64 * 1024 - 7))
    reserve(str(path), 256 * 1024)  # grown: what was there is kept
    assert path.read_bytes()[:7] == b"samples"
    assert path.stat().st_size == 256 * 1024
    assert path.stat().st_blocks * 512 >= 256 * 1024

    mapped = AllocatedDict(str(tmp_path / "gauge_livesum_1.db"))
    mapped.write_value("in flight", 2.0, 0.0)
    mapped.close()  # type: ignore[no-untyped-call]
    assert (tmp_path / "gauge_livesum_1.db").stat().st_size > 0


def test_without_fallocate_a_full_disk_is_still_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "posix_fallocate", _unsupported)
    written: list[int] = []

    def full(fd: int, data: bytes, offset: int) -> int:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(len(data))
        return len(data)

    monkeypatch.setattr(os, "pwrite", full)
    path = tmp_path / "counter_1.db"
    with pytest.raises(OSError) as raised:
        reserve(str(path), 256 * 1024)
    assert raised.value.errno == errno.ENOSPC
    assert not path.exists()  # made here: not left behind half-written


def test_a_child_whose_supervisor_is_gone_stops(tmp_path: Path) -> None:
    """Without ``PR_SET_PDEATHSIG`` (not Linux, or prctl failed) a ``kill -9``'d supervisor's
    children served on: a child now stops once its parent is not the supervisor it had."""
    env = {
        "S3PROXY_UPSTREAMS__MAIN__TYPE": "local",
        "S3PROXY_UPSTREAMS__MAIN__PATH": str(tmp_path / "data"),
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
    }
    settings = load_settings(None, env=env)
    s3, admin = (socket.create_server(("127.0.0.1", 0)) for _ in range(2))
    role = server.Role(
        s3_fd=s3.detach(),
        admin_fd=admin.detach(),
        announce=False,
        supervised=True,
        parent=os.getppid() + 1,  # not this process's parent: as after the supervisor's death
    )
    previous = {signum: signal.getsignal(signum) for signum in server.HANDLED}
    try:
        served = asyncio.run(asyncio.wait_for(server.serve_role(settings, None, role), 60))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert served == 0
