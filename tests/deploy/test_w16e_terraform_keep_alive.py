"""The ECS tasks keep idle connections longer than the ALB does (wave 16, E).

terraform/ set the ALB's idle timeout to 300 s and left s3proxy's ``keep_alive_timeout`` at its
75 s, so a task closed idle connections the ALB still held; AWS advises an application idle
timeout above the load balancer's, as a request the ALB sends while the task's close is on its
way is answered 502 Bad Gateway. The task's environment now sets it 5 s above the ALB's."""

from __future__ import annotations

import re
from pathlib import Path

from s3proxy.config import load_settings

MODULE = Path(__file__).resolve().parents[2] / "terraform"


def _one(pattern: str, file: str) -> re.Match[str]:
    found = re.search(pattern, (MODULE / file).read_text(), re.MULTILINE)
    assert found, f"terraform/{file}: no match for {pattern}"
    return found


def test_the_task_keeps_idle_connections_longer_than_the_alb(tmp_path: Path) -> None:
    idle = int(_one(r"^\s*alb_idle_timeout\s*=\s*(\d+)\s*$", "main.tf")[1])
    _one(r"^\s*idle_timeout\s*=\s*local\.alb_idle_timeout\s*$", "alb.tf")
    margin = _one(
        r"^\s*S3PROXY_SERVER__KEEP_ALIVE_TIMEOUT\s*=\s*"
        r"tostring\(local\.alb_idle_timeout \+ (\d+)\)",
        "ecs.tf",
    )
    keep_alive = idle + int(margin[1])
    assert keep_alive > idle
    env = {
        "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "http://127.0.0.1:8333",
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
        "S3PROXY_SERVER__KEEP_ALIVE_TIMEOUT": str(keep_alive),
    }
    assert load_settings(None, env=env).server.keep_alive_timeout == keep_alive
