"""`s3proxy locate` in each mode serve has, and `stats` as the README runs it (issue 19.2).

Each test stores an object through a running proxy, then asks `locate` where it is — with the
same flags that proxy was started with, no client or upstream secret in the environment — and
finds it there: in the upstream bucket, or in the local store's index.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3proxy.backends.local.index import key_bytes
from tests.integration.conftest import HOME_BUCKET, client_for
from tests.support.clients import clean_env
from tests.support.processes import ProxyProcess, SeaweedFS, free_port

pytestmark = pytest.mark.integration

BUCKET, KEY, BODY = "locate-modes", "find/me here.txt", b"located"
ACCESS_KEY, SECRET_KEY = "AKLOCATEMODES0000001", "locate-modes-secret-key-1234"


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line with no S3PROXY_* or AWS_* variable: it must need no secret."""
    return subprocess.run(
        [sys.executable, "-m", "s3proxy", *argv],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def located(*argv: str, cwd: Path) -> dict[str, str]:
    result = cli("locate", *argv, BUCKET, KEY, cwd=cwd)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())


def test_locate_and_stats_on_the_zero_config_store(tmp_path: Path) -> None:
    workdir = tmp_path / "fresh"
    workdir.mkdir()
    port, admin_port = free_port(), free_port()
    process = ProxyProcess.start(
        None,
        admin_port=admin_port,
        log_path=tmp_path / "serve.log",
        env=clean_env(),
        extra_args=("--port", str(port), "--admin-port", str(admin_port)),
        cwd=workdir,
    )
    try:
        text = process.log_text()
        access = re.search(r"^s3proxy: access key: (\S+)$", text, re.MULTILINE)
        secret = re.search(r"^s3proxy: secret key: (\S+)$", text, re.MULTILINE)
        assert access and secret, text
        s3 = client_for(f"http://127.0.0.1:{port}", access.group(1), secret.group(1))
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    finally:
        assert process.stop() == 0

    where = located(cwd=workdir)  # no flag at all, as `s3proxy serve` had none
    assert where == located("--data-dir", "s3proxy-data", cwd=workdir)
    assert (where["upstream"], where["bucket"], where["key_encoding"]) == (
        "local",
        "default",
        "plain",
    )
    index = workdir / "s3proxy-data" / "index.sqlite3"
    with sqlite3.connect(f"{index.as_uri()}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT size FROM objects WHERE bucket = ? AND key = ?",
            (where["bucket"], key_bytes(where["key"])),
        ).fetchone()
    assert row == (len(BODY),)

    stats = cli("stats", "--json", cwd=workdir)  # the README's command, relative default
    assert (stats.returncode, stats.stderr) == (0, "")
    figures = json.loads(stats.stdout)
    assert figures["path"] == "s3proxy-data" and figures["logical_bytes"] >= len(BODY)


def test_locate_in_the_upstream_quick_start_and_from_a_config(
    seaweed: SeaweedFS, upstream_s3: Any, upstream_buckets: None, tmp_path: Path
) -> None:
    port, admin_port = free_port(), free_port()
    env = clean_env()
    env.update(
        S3PROXY_UPSTREAM_ACCESS_KEY=seaweed.access_key,
        S3PROXY_UPSTREAM_SECRET_KEY=seaweed.secret_key,
        S3PROXY_ACCESS_KEY=ACCESS_KEY,
        S3PROXY_SECRET_KEY=SECRET_KEY,
    )
    flags = ("--upstream", seaweed.endpoint, "--upstream-bucket", HOME_BUCKET, "--shards", "256")
    process = ProxyProcess.start(
        None,
        admin_port=admin_port,
        log_path=tmp_path / "serve.log",
        env=env,
        cwd=tmp_path,
        extra_args=(*flags, "--port", str(port), "--admin-port", str(admin_port)),
    )
    try:
        s3 = client_for(f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
        where = located(*flags, cwd=tmp_path)
        assert where == located(*flags, "--tenant", "default", cwd=tmp_path)
        stored = upstream_s3.get_object(Bucket=where["bucket"], Key=where["key"])
        assert stored["Body"].read() == BODY

        # The same deployment written as a configuration whose secrets are all unset.
        config = tmp_path / "s3proxy.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "server": {"secret": "env:LOCATE_UNSET_SERVER_SECRET"},
                    "upstreams": {
                        "default": {
                            "endpoint": seaweed.endpoint,
                            "access_key": "env:LOCATE_UNSET_UPSTREAM_AK",
                            "secret_key": "file:no-such-file",
                        }
                    },
                    "tenants": {
                        "default": {
                            "keys": [{"access_key": ACCESS_KEY, "secret_key": "env:LOCATE_SK"}],
                            "home": {"upstream": "default", "bucket": HOME_BUCKET},
                        }
                    },
                    "layout": {"shards": 256},
                }
            )
        )
        assert located("--config", str(config), "--tenant", "default", cwd=tmp_path) == where
        assert located("--config", str(config), "--access-key", ACCESS_KEY, cwd=tmp_path) == where
        s3.delete_object(Bucket=BUCKET, Key=KEY)
        s3.delete_bucket(Bucket=BUCKET)
    finally:
        assert process.stop() == 0
