"""The chart's probes and s3proxy's readiness budget (wave 15 E).

Wave 14 made the chart set ``server.readiness_timeout`` 1 s below the readiness probe's timeout,
and it did so over a value the user wrote in ``config:``, silently. Now a value in ``config``
is kept as written, and the probe's timeout is raised to 1 s above it when it would not fit
below, so the budget is always below the probe's timeout. The startup probe had no
``timeoutSeconds`` (the kubelet's 1 s) while a pod's first seconds share its CPU with its other
workers starting; it is now a value, 2 s by default, like the liveness probe's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_helm import container, helm_binary, proxy_config, render

__all__ = ["helm_binary"]  # the fixture, used by name


def with_values(tmp_path: Path, values: Mapping[str, object]) -> list[str]:
    """A values file (numbers stay numbers, as in a user's own file; ``--set`` makes strings)."""
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return ["-f", str(path)]


@pytest.mark.parametrize(("budget", "probe", "timeout"), [(2.5, 4, 4), (7.5, 4, 9), (3, 1, 4)])
def test_a_readiness_timeout_in_config_is_kept_and_the_probe_fits_above_it(
    helm_binary: Path, tmp_path: Path, budget: float, probe: int, timeout: int
) -> None:
    values = {
        "config": {"server": {"readiness_timeout": budget}},
        "probes": {"readiness": {"timeoutSeconds": probe}},
    }
    manifests = render(helm_binary, with_values(tmp_path, values))
    assert proxy_config(manifests)["server"]["readiness_timeout"] == budget
    assert container(manifests)["readinessProbe"]["timeoutSeconds"] == timeout > budget


def test_the_startup_probe_has_its_own_timeout(helm_binary: Path, tmp_path: Path) -> None:
    assert container(render(helm_binary))["startupProbe"]["timeoutSeconds"] == 2
    values = {"probes": {"startup": {"timeoutSeconds": 5}}}
    startup = container(render(helm_binary, with_values(tmp_path, values)))["startupProbe"]
    assert startup["timeoutSeconds"] == 5
