"""The Helm chart as the deploy tests render it: the value sets every check runs with, and
``helm template`` (tests/deploy/test_helm.py; checkov scans the same renderings, conftest.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "s3proxy"
ALL_OPTIONS = CHART / "ci" / "all-options-values.yaml"
NAMESPACE = "storage"
VALUE_SETS = {"defaults": [], "all-options": ["-f", str(ALL_OPTIONS)]}


def run_helm(binary: Path, *args: str) -> str:
    result = subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def template(binary: Path, values: Sequence[str] = ()) -> str:
    return run_helm(binary, "template", "s3", str(CHART), "--namespace", NAMESPACE, *values)
