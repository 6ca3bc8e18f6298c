"""The pod's /tmp is sized for its metrics files (wave 16, E2).

With several workers each process writes its metrics to files in /tmp (an emptyDir), ~8 MiB per
process per 1,000 tenants, and a pod past the emptyDir's sizeLimit is evicted. The limit was a
fixed 64 Mi whatever the worker count; it now follows it (values.yaml ``tmp``): 32 Mi +
``tmp.metricsMiPerProcess`` x (workers + 2), the workers as ``server.workers: auto`` counts them
from the CPU limit, or an explicit ``tmp.sizeLimit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.test_helm import helm_binary, one, render
from tests.deploy.test_w15e_helm import with_values

__all__ = ["helm_binary"]  # the fixture, used by name


def _tmp_limit(manifests: list[dict[str, Any]]) -> str:
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    (tmp,) = [volume for volume in pod["volumes"] if volume["name"] == "tmp"]
    limit: str = tmp["emptyDir"]["sizeLimit"]
    return limit


@pytest.mark.parametrize(
    ("values", "limit"),
    [
        ({}, "96Mi"),  # limits.cpu "2": two workers
        ({"config": {"server": {"workers": 8}}}, "192Mi"),
        ({"resources": {"limits": {"cpu": "3500m"}}}, "128Mi"),
        ({"tmp": {"sizeLimit": "1Gi"}}, "1Gi"),
    ],
)
def test_the_tmp_limit_follows_the_workers(
    helm_binary: Path, tmp_path: Path, values: dict[str, Any], limit: str
) -> None:
    assert _tmp_limit(render(helm_binary, with_values(tmp_path, values))) == limit
