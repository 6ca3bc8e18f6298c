"""s3cmd 2.4 (PyPI) against the proxy, signing with SigV4 and with SigV2, without bucket_location
(so it signs with region "US" and asks ``?location`` first)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Proxy
from tests.support.clients import clean_env, executable

pytestmark = pytest.mark.integration


def s3cmd_executable() -> str:
    return executable("s3cmd", "s3cmd")


@pytest.fixture(params=[False, True], ids=["sigv4", "sigv2"])
def s3cmd(proxy: Proxy, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    ak, sk = proxy.keys("alice")
    config = tmp_path / "s3cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {ak}\nsecret_key = {sk}\n"
        f"host_base = 127.0.0.1:{proxy.port}\nhost_bucket = 127.0.0.1:{proxy.port}\n"
        "use_https = False\n"
        f"signature_v2 = {request.param}\n"
    )
    env = clean_env()

    def run(*args: str) -> str:
        result = subprocess.run(
            [s3cmd_executable(), "-c", str(config), *args],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    return run


def test_s3cmd_session(s3cmd: Any, tmp_path: Path) -> None:
    bucket = "s3cmd-" + os.urandom(4).hex()
    small = tmp_path / "small file.txt"
    small.write_bytes(b"small s3cmd file\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    s3cmd("mb", f"s3://{bucket}")
    assert f"s3://{bucket}" in s3cmd("ls")
    s3cmd("put", str(small), f"s3://{bucket}/dir/small file.txt")
    s3cmd("put", "--disable-multipart", str(big), f"s3://{bucket}/big.bin")
    listing = s3cmd("ls", f"s3://{bucket}/")
    assert "DIR" in listing and f"s3://{bucket}/big.bin" in listing
    recursive = s3cmd("ls", "--recursive", f"s3://{bucket}")
    assert f"s3://{bucket}/dir/small file.txt" in recursive
    s3cmd("get", f"s3://{bucket}/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "big.back").read_bytes() == big.read_bytes()
    s3cmd("get", f"s3://{bucket}/dir/small file.txt", str(tmp_path / "small.back"))
    assert (tmp_path / "small.back").read_bytes() == small.read_bytes()
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}")
    s3cmd("rb", f"s3://{bucket}")
    assert f"s3://{bucket}" not in s3cmd("ls")
