"""The chart's readiness probe and s3proxy's own readiness budget (wave 14 E): the chart sets
``server.readiness_timeout`` below ``probes.readiness.timeoutSeconds``, so an upstream slower
than the budget makes /readyz answer 503 naming it before the kubelet gives up on the probe
(before, s3proxy's fixed 3 s against whatever timeout the values gave the probe: at 1 s, the
kubelet's default, an upstream answering in about a second passed or failed at random)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.test_helm import container, helm_binary, proxy_config, render  # noqa: F401


@pytest.mark.parametrize(("probe", "budget"), [(None, 3), (1, 0.5), (2, 1), (10, 9)])
def test_the_readiness_budget_is_below_the_probes_timeout(
    helm_binary: Path,  # noqa: F811
    probe: int | None,
    budget: float,
) -> None:
    values = [] if probe is None else ["--set", f"probes.readiness.timeoutSeconds={probe}"]
    manifests = render(helm_binary, values)
    timeout = container(manifests)["readinessProbe"]["timeoutSeconds"]
    assert proxy_config(manifests)["server"]["readiness_timeout"] == budget < timeout
