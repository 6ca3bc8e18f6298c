"""The local store when SQLite's shared-memory file cannot be written (made immutable, or on a
file system remounted read-only after disk errors): requests are refused with 503, and the
process lives on and serves again once the file is writable.

SQLite maps ``index.sqlite3-shm`` and writes to it on every read and write; a write to that
mapping then is SIGBUS, which killed the store's one server process (a GET was enough). The
scenario runs in a child process, so that the SIGBUS this guards against cannot take pytest
down with it. Root only (``chattr +i``; chmod does not stop root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent(
    """
    import asyncio, subprocess, sys
    from pathlib import Path
    from s3proxy.errors import S3Error, S3ErrorCode
    from tests.unit.local_helpers import get, put, run

    root = Path(sys.argv[1])
    shm = root / "index.sqlite3-shm"

    async def scenario(store):
        await put(store, "k", b"before")
        subprocess.run(["chattr", "+i", str(shm)], check=True)
        try:
            for attempt in (get(store, "k"), put(store, "k2", b"x")):
                try:
                    await attempt
                except S3Error as error:
                    assert error.code is S3ErrorCode.ServiceUnavailable, error
                else:
                    raise AssertionError("served from an unwritable index")
        finally:
            subprocess.run(["chattr", "-i", str(shm)], check=True)
        assert await get(store, "k") == b"before"
        await put(store, "k2", b"after")
        print("served again", flush=True)

    run(root, scenario)
    """
)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("chattr") is None, reason="needs root and chattr"
)
def test_an_unwritable_shared_memory_file_is_503_not_sigbus(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    if subprocess.run(["chattr", "+i", str(probe)], check=False).returncode != 0:
        pytest.skip("the file system does not take chattr +i")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    root = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(root)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    subprocess.run(["chattr", "-i", str(root / "index.sqlite3-shm")], check=False)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert "served again" in done.stdout
