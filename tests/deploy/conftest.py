"""Deploy-test fixtures: one checkov run (tests/deploy/checkov_scan.py) for test_helm and
test_terraform, which tests/conftest.py keeps on one xdist worker so that the scan runs once."""

from __future__ import annotations

import shutil

import pytest

from conformance.tools import ToolUnavailable, checkov, helm
from tests.deploy.chart import ROOT, VALUE_SETS, template
from tests.deploy.checkov_scan import Scan, helm_target, run_checkov

TERRAFORM = ROOT / "terraform"


@pytest.fixture(scope="session")
def checkov_scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """The chart with each of test_helm's value sets (``helm-<set>/``) and the Terraform module
    with its example (``terraform/``), scanned in one checkov run. Without helm, the module
    alone."""
    try:
        binary = checkov()
    except ToolUnavailable as error:
        pytest.skip(f"checkov unavailable: {error}")
    root = tmp_path_factory.mktemp("checkov")
    shutil.copytree(TERRAFORM, root / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    try:
        helm_binary = helm()
    except ToolUnavailable:
        helm_binary = None
    if helm_binary is not None:
        for name, values in VALUE_SETS.items():
            (root / helm_target(name)).mkdir()
            (root / helm_target(name) / "manifests.yaml").write_text(template(helm_binary, values))
    return run_checkov(binary, root)
