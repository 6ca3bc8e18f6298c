"""The README's first command: `s3proxy serve` with no configuration at all, used by aws-cli.

The proxy runs in an empty working directory with no S3PROXY_* variables, as on a fresh
machine: it must create ./s3proxy-data, print working credentials, and keep them (and the
objects) across a restart.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.clients import clean_env, executable
from tests.support.processes import ProxyProcess, free_port

pytestmark = pytest.mark.integration


def start_default(workdir: Path, port: int, admin_port: int, log: str) -> ProxyProcess:
    return ProxyProcess.start(
        None,
        admin_port=admin_port,
        log_path=workdir.parent / log,
        env=clean_env(),
        extra_args=("--port", str(port), "--admin-port", str(admin_port)),
        cwd=workdir,
    )


def banner_keys(text: str) -> tuple[str, str]:
    access = re.search(r"^s3proxy: access key: (\S+)$", text, re.MULTILINE)
    secret = re.search(r"^s3proxy: secret key: (\S+)$", text, re.MULTILINE)
    assert access and secret, text
    return access.group(1), secret.group(1)


def test_serve_with_no_config_is_a_working_s3_endpoint(tmp_path: Path) -> None:
    workdir = tmp_path / "fresh"
    workdir.mkdir()
    port, admin_port = free_port(), free_port()
    aws_bin = executable("aws", "awscli")
    process = start_default(workdir, port, admin_port, "first.log")
    try:
        access_key, secret_key = banner_keys(process.log_text())
        env = clean_env()
        env.update(
            AWS_ACCESS_KEY_ID=access_key,
            AWS_SECRET_ACCESS_KEY=secret_key,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(tmp_path / "none"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        )

        def aws(*args: str) -> str:
            result = subprocess.run(
                [aws_bin, "--endpoint-url", f"http://127.0.0.1:{port}", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        source = tmp_path / "report.bin"
        source.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
        aws("s3", "mb", "s3://first-bucket")
        aws("s3", "cp", str(source), "s3://first-bucket/2026/report.bin")
        aws("s3", "cp", str(source), "s3://first-bucket/copy-of-report.bin")
        listing = aws("s3", "ls", "--recursive", "s3://first-bucket")
        assert "2026/report.bin" in listing and "copy-of-report.bin" in listing
    finally:
        assert process.stop() == 0

    data = workdir / "s3proxy-data"
    assert data.is_dir()
    stats = subprocess.run(
        [sys.executable, "-m", "s3proxy", "stats", "--data-dir", str(data), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    figures = json.loads(stats.stdout)
    size = source.stat().st_size
    # Two keys with identical bytes: stored once (the bucket record is a small object too).
    assert figures["logical_bytes"] >= 2 * size
    assert size <= figures["physical_bytes"] < 2 * size

    # Restarted: same keys (shown without the secret), same objects.
    process = start_default(workdir, port, admin_port, "second.log")
    try:
        text = process.log_text()
        assert f"access key: {access_key}" in text and secret_key not in text
        got = tmp_path / "back.bin"
        aws("s3", "cp", "s3://first-bucket/2026/report.bin", str(got))
        assert got.read_bytes() == source.read_bytes()
        aws("s3", "rm", "--recursive", "s3://first-bucket")
        aws("s3", "rb", "s3://first-bucket")
        assert "first-bucket" not in aws("s3", "ls")
    finally:
        assert process.stop() == 0
