"""A small real disk to fill to its last block: the local store's full-disk tests, unit and
integration alike (s3proxy.backends.local.reserve).

A tmpfs needs root or CAP_SYS_ADMIN; where it cannot be mounted, the test is skipped.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

MiB = 1024 * 1024


@contextlib.contextmanager
def tmpfs(mount: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted on the directory ``mount`` (made if missing), lazily
    unmounted afterwards."""
    mount.mkdir(exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    """Take every free block of ``disk`` (down to single bytes), as another writer would."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (MiB, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\xff" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    assert os.statvfs(disk).f_bavail == 0
