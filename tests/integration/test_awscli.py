"""aws-cli (pip `awscli`) against the proxy: `s3 cp` of a 50 MiB file both ways and `s3api`
object calls. Whole client sessions (every client, every upstream) are in tests/clients."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Proxy
from tests.support.clients import clean_env, executable

pytestmark = pytest.mark.integration


def aws_executable() -> str:
    return executable("aws", "awscli")


@pytest.fixture()
def aws(proxy: Proxy, tmp_path: Path) -> Any:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")  # default settings: multipart > 8 MiB
    ak, sk = proxy.keys("alice")
    env = clean_env()
    env.update(
        AWS_ACCESS_KEY_ID=ak,
        AWS_SECRET_ACCESS_KEY=sk,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    executable = aws_executable()

    def run(*args: str) -> str:
        result = subprocess.run(
            [executable, "--endpoint-url", proxy.endpoint, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


@pytest.mark.parametrize("size", [1024 * 1024, 50 * 1024 * 1024], ids=["1MiB", "50MiB"])
def test_cp_up_and_down_is_byte_identical(aws: Any, tmp_path: Path, size: int) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(size))
    aws("s3", "cp", str(source), f"s3://docs/awscli/{size}.bin")
    target = tmp_path / "target.bin"
    aws("s3", "cp", f"s3://docs/awscli/{size}.bin", str(target))
    assert (
        hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    )


def test_s3api_object_calls(aws: Any, tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("hello from aws-cli\n")
    put = json.loads(
        aws(
            "s3api",
            "put-object",
            "--bucket",
            "docs",
            "--key",
            "awscli/api.txt",
            "--body",
            str(body),
            "--content-type",
            "text/plain",
            "--metadata",
            "origin=cli",
        )
    )
    head = json.loads(aws("s3api", "head-object", "--bucket", "docs", "--key", "awscli/api.txt"))
    assert head["ETag"] == put["ETag"]
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"origin": "cli"}
    assert head["ContentLength"] == len("hello from aws-cli\n")
    out = tmp_path / "out.txt"
    aws(
        "s3api",
        "get-object",
        "--bucket",
        "docs",
        "--key",
        "awscli/api.txt",
        "--range",
        "bytes=6-9",
        str(out),
    )
    assert out.read_text() == "from"
    aws("s3api", "delete-object", "--bucket", "docs", "--key", "awscli/api.txt")
