"""A full metrics disk is an error the process survives, not a SIGBUS (wave 17, E).

prometheus_client sizes its memory-mapped metrics files with ``ftruncate``, leaving them sparse,
so on a full filesystem the first write to a new page through the mapping killed the process
with SIGBUS: a worker at its first request or new series, and the supervisor folding a dead
worker's files, which took the server down. s3proxy.metrics_mmap takes each file's space before
mapping it; a process whose file cannot grow keeps its new series in memory and serves on.
The full disk is a 256 KiB tmpfs in a mount namespace of its own (skipped where one cannot be
made), and a file-size limit (RLIMIT_FSIZE, EFBIG) stands for a quota everywhere.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import values

import s3proxy.metrics  # noqa: F401  (makes the metrics files prometheus_client opens)

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = """
import logging, os, sys
logging.basicConfig(level=logging.WARNING)
D = sys.argv[1]

def fill():
    fd = os.open(os.path.join(D, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, bytes(65536))
    except OSError:
        pass
    finally:
        os.close(fd)
"""
REQUESTS = """
from s3proxy import metrics
for n in range(3000):
    metrics.observe_request("GetObject", 200, f"tenant-{n}", 0.01, 0, 10)
print("served", flush=True)
"""
FOLD = """
from prometheus_client.mmap_dict import MmapedDict
from s3proxy.metrics_files import fold_dead
dead = MmapedDict(os.path.join(D, "counter_7.db"))
for n in range(1000):
    dead.write_value(f"key-{n}", 1.0, 0.0)
dead.close()
fill()
try:
    fold_dead(7, D)
except OSError as exc:
    print("kept:", exc.strerror, flush=True)
"""


def _python(code: str, directory: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    command = [sys.executable, "-c", PRELUDE + code, str(directory)]
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, **kwargs
    )


def _on_full_tmpfs(code: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """``code`` run with ``directory`` a 256 KiB tmpfs (filled first unless ``code`` fills it)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    mount = 'mount -t tmpfs -o size=256k none "$1" || exit 99; shift; exec "$@"'
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    inner = [sys.executable, "-c", PRELUDE + code, str(directory)]
    command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, "sh"]
    done = subprocess.run(
        [*command, str(directory), *inner],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == 99 or "unshare failed" in done.stderr:
        pytest.skip(f"no tmpfs in a namespace of our own: {done.stderr.strip()}")
    return done


def test_a_process_writing_metrics_on_a_full_tmpfs_serves_on(tmp_path: Path) -> None:
    done = _on_full_tmpfs("fill()\n" + REQUESTS, tmp_path)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # was -7: SIGBUS
    assert done.stdout == "served\n"
    assert "cannot grow (No space left on device)" in done.stderr


def test_folding_a_dead_workers_files_on_a_full_tmpfs_keeps_them(tmp_path: Path) -> None:
    """The supervisor folds a dead worker's files; on a full disk it keeps them and logs (it
    catches OSError), where the write through the mapping killed it with SIGBUS."""
    done = _on_full_tmpfs(FOLD, tmp_path)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # was -7: SIGBUS
    assert done.stdout == "kept: No space left on device\n"


def test_a_metrics_file_past_the_file_size_limit_keeps_new_series_in_memory(
    tmp_path: Path,
) -> None:
    """A file-size limit (or a quota) refuses the growth: the requests are served, the samples
    already filed stay readable, and the new series wait in memory (was: an OSError out of the
    first request to need a new series, and out of every one after)."""
    limit = 128 * 1024

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = _python(REQUESTS, tmp_path, preexec_fn=limited)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "served\n"
    assert "cannot grow (File too large)" in done.stderr
    sizes = [path.stat().st_size for path in tmp_path.glob("*.db")]
    assert sizes and max(sizes) <= limit


def test_every_page_of_a_metrics_file_has_its_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No page is left for the first write through the mapping to allocate (that write is
    where a full disk raised SIGBUS)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    value_class = values.MultiProcessValue(process_identifier=lambda: 4242)
    try:
        for n in range(1000):
            value_class("counter", "m", "m_total", ["tenant"], [f"t{n}"], "help").inc(1)
    finally:
        value_class.close_all_files()
    written = (tmp_path / "counter_4242.db").stat()
    assert written.st_size > 64 * 1024  # it grew
    assert written.st_blocks * 512 >= written.st_size
