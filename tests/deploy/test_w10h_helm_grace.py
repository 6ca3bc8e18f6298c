"""The chart's termination grace period covers the whole drain s3proxy promises (wave 10 H).

After SIGTERM s3proxy serves on for ``server.drain_delay`` seconds with /readyz failing, then
gives in-flight requests ``server.shutdown_timeout`` seconds: a grace period shorter than the
preStop sleep plus both lets the kubelet's SIGKILL cut requests the proxy meant to finish.
"""

from __future__ import annotations

from pathlib import Path

from tests.deploy.test_helm import helm_binary, one, render

__all__ = ["helm_binary"]  # the fixture, used by name


def test_the_grace_period_covers_drain_delay_and_shutdown_timeout(helm_binary: Path) -> None:
    values = ["--set=config.server.drain_delay=12.5", "--set=config.server.shutdown_timeout=20"]
    pod = one(render(helm_binary, values), "Deployment")["spec"]["template"]["spec"]
    # preStopSleepSeconds + ceil(drain_delay) + shutdown_timeout + extraGraceSeconds
    assert pod["terminationGracePeriodSeconds"] == 5 + 13 + 20 + 10
