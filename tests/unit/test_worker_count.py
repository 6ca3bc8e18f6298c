"""How many processes ``server.workers`` starts: auto follows the CPUs a container may use."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3proxy.cli import main
from s3proxy.config import quick_start_settings
from s3proxy.config.local_default import local_default_settings
from s3proxy.worker_count import cgroup_cpu_limit, prepare_metrics, usable_cpus, worker_count


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [
        ("max 100000\n", None),  # no limit
        ("200000 100000\n", 2),
        ("150000 100000\n", 2),  # 1.5 CPUs: two processes, the quota still caps their sum
        ("50000 100000\n", 1),
        ("garbage", None),
        ("0 100000", None),
    ],
)
def test_cgroup_quota_in_cpus(cpu_max: str, cpus: int | None) -> None:
    assert cgroup_cpu_limit(cpu_max) == cpus


def test_auto_is_capped_by_the_container_quota(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("100000 100000\n")
    assert usable_cpus(quota) == 1
    unlimited = tmp_path / "unlimited"
    unlimited.write_text("max 100000\n")
    assert usable_cpus(unlimited) >= 1
    assert usable_cpus(tmp_path / "absent") == usable_cpus(unlimited)


def test_auto_starts_one_worker_per_cpu_and_a_number_is_taken_as_is() -> None:
    keys = ("UPSTREAM_ACCESS_KEY", "UPSTREAM_SECRET_KEY", "ACCESS_KEY", "SECRET_KEY")
    env = {f"S3PROXY_{name}": "x" * 20 for name in keys}
    settings = quick_start_settings("http://127.0.0.1:1", "bucket", env)
    assert settings.server.workers == "auto"
    assert worker_count(settings, cpus=6) == 6
    fixed = settings.model_copy(
        update={"server": settings.server.model_copy(update={"workers": 3})}
    )
    assert worker_count(fixed, cpus=6) == 3


def test_the_local_store_is_always_served_by_one_process(tmp_path: Path) -> None:
    settings = local_default_settings(tmp_path, env={}).settings
    many = settings.model_copy(update={"server": settings.server.model_copy(update={"workers": 8})})
    assert worker_count(many, cpus=8) == 1


def test_one_worker_needs_no_shared_metrics() -> None:
    assert prepare_metrics(1) is False


def test_workers_flag_is_validated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) == 2
    assert "must be 1 to 256 or auto" in capsys.readouterr().err
    assert main(["serve", "--workers", "many"]) == 2
