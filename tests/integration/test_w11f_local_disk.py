"""The quick start's local store on a disk filled to its last block, as a client sees it (and a
second ``serve`` started on its directory).

A write is refused with 500 InternalError (S3 has no error for a full disk; see
s3proxy.backends.local.reserve for why not 503 SlowDown) and stores nothing, while DELETE and
DeleteObjects still work and free the room, and a proxy restarted on the full disk starts and
serves. Before the store kept a reserve, both deletes were 500 (SQLite's log had no room for
their pages) and the restarted proxy could not open its index, so no client could free space.
The disk is a small tmpfs mounted on the store's directory (root or CAP_SYS_ADMIN; skipped
elsewhere).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from s3proxy.backends.local.reserve import RESERVE_BYTES
from tests.integration.conftest import start_proxy
from tests.support.full_disk import MiB, fill, tmpfs
from tests.support.processes import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        "local" not in os.environ.get("S3PROXY_TEST_BACKENDS", "local").split(","),
        reason="the local store's own lane",
    ),
]

BUCKET = "docs"


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A proxy's work directory whose ``store`` is a tmpfs of the reserve plus 6 MiB."""
    with tmpfs(tmp_path / "store", RESERVE_BYTES + 6 * MiB):
        yield tmp_path


def refused_put(client: object, key: str) -> None:
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"no room")  # type: ignore[attr-defined]
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error["Error"]["Code"] == "InternalError"
    assert "storage is full" in error["Error"]["Message"]


def test_deletes_free_a_full_disk_and_a_restart_serves_on_it(workdir: Path) -> None:
    disk = workdir / "store"
    bodies = {f"k{n}": os.urandom(MiB) for n in range(4)}
    proxy = start_proxy(None, None, workdir)
    try:
        client = proxy.client("alice")
        for key, body in bodies.items():
            client.put_object(Bucket=BUCKET, Key=key, Body=body)
        fill(disk)
        refused_put(client, "new")
        client.delete_object(Bucket=BUCKET, Key="k0")
        deleted = client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "k1"}]})
        assert [entry["Key"] for entry in deleted["Deleted"]] == ["k1"]
        assert "Errors" not in deleted
        client.put_object(Bucket=BUCKET, Key="new", Body=b"room again")
        assert client.get_object(Bucket=BUCKET, Key="new")["Body"].read() == b"room again"
    finally:
        proxy.process.stop()
    (disk / "filler").unlink()
    fill(disk)
    proxy = start_proxy(None, None, workdir)
    try:
        client = proxy.client("alice")
        assert client.get_object(Bucket=BUCKET, Key="k2")["Body"].read() == bodies["k2"]
        refused_put(client, "after-restart")
        client.delete_object(Bucket=BUCKET, Key="k2")
        client.delete_object(Bucket=BUCKET, Key="k3")
        client.put_object(Bucket=BUCKET, Key="after-restart", Body=b"room again")
        listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert [entry["Key"] for entry in listed] == ["after-restart", "new"]
        assert list((disk / "tmp").iterdir()) == []
    finally:
        proxy.process.stop()


def test_a_second_serve_on_the_data_directory_exits_in_one_line_and_touches_nothing(
    tmp_path: Path,
) -> None:
    """The store is one process's (a lock on its directory): a second ``serve`` of the same
    configuration stops before its start-up sweep, so the running proxy's temp file stays,
    and says why in one line ("cannot serve: ..."), where it printed a RuntimeError traceback."""
    proxy = start_proxy(None, None, tmp_path)
    try:
        live = tmp_path / "store" / "tmp" / "live-upload.part"
        live.write_bytes(b"a body still arriving")
        second = subprocess.run(
            [sys.executable, "-m", "s3proxy", "serve", "--config", str(proxy.config_path),
             "--port", str(free_port()), "--admin-port", str(free_port())],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
        )  # fmt: skip
        assert second.returncode == 1
        output = second.stdout + second.stderr
        assert "is in use by another process" in output
        assert "Traceback" not in output
        assert live.read_bytes() == b"a body still arriving"
        client = proxy.client("alice")
        client.put_object(Bucket=BUCKET, Key="still-served", Body=b"yes")
        assert client.get_object(Bucket=BUCKET, Key="still-served")["Body"].read() == b"yes"
    finally:
        proxy.process.stop()
