"""checkov's findings for several directories from one run, split by directory: most of a
checkov run is its start (~4 s of CPU importing its checks), so the deploy tests scan the chart's
renderings and the Terraform module together (the ``checkov_scan`` fixture, conftest.py)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Findings:
    """What checkov reported for the files under one scanned directory."""

    passed: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Scan:
    """One checkov run over ``root/<name>/`` for every scanned target, split by target."""

    root: Path
    output: str
    findings: dict[str, Findings] = field(default_factory=dict)

    def of(self, name: str) -> Findings:
        if name not in self.findings:
            pytest.fail(f"checkov reported nothing under {self.root / name}:\n{self.output}")
        return self.findings[name]


def helm_target(name: str) -> str:
    return f"helm-{name}"


def _reports(output: str) -> list[dict[str, Any]]:
    """checkov's JSON: one report, or a list of them (one per framework that found files)."""
    document = json.loads(output)
    return document if isinstance(document, list) else [document]


def run_checkov(binary: Path, root: Path) -> Scan:
    result = subprocess.run(
        [
            *(str(binary), "-d", str(root), "--framework", "kubernetes", "terraform"),
            *("-o", "json", "--skip-download"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # 1: some check failed (a test decides whether that failure is allowed); 2 and up: an error
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    scan = Scan(root, result.stdout[-3000:] + result.stderr[-3000:])
    for report in _reports(result.stdout):
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        for outcome, checks in report["results"].items():
            if outcome not in ("passed_checks", "failed_checks", "skipped_checks"):
                continue
            for check in checks:
                target = Path(check["file_abs_path"]).relative_to(root).parts[0]
                found = scan.findings.setdefault(target, Findings())
                getattr(found, outcome.removesuffix("_checks")).append(check)
    return scan
