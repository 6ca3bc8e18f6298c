"""The COMPATIBILITY.md generator, on a recorded run made up here (no clients, no servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.compat_report import main
from conformance.sessions.base import STEPS


def _record(**fields: Any) -> str:
    fields.setdefault("user_agent", "aws-cli/1.0 Python")
    fields.setdefault("bucket", "b")
    return json.dumps({"time": "t", "request_id": "R", "tenant": "t", **fields})


def _session(client: str, scheme: str, log: str, start: int, end: int, failed: str = "") -> Any:
    steps = [
        {"name": s, "status": "failed" if s == failed else "passed", "seconds": 0.1,
         "detail": "CommandFailed: boom" if s == failed else ""}
        for s in STEPS
    ]  # fmt: skip
    return {"client": client, "upstream": "ceph", "scheme": scheme, "version": "v9",
            "bucket": "b", "log_file": log, "log_start": start, "log_end": end,
            "steps": steps, "seconds": 1.0}  # fmt: skip


def test_matrix_failures_and_wire_facts(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    first = "\n".join([
        _record(operation="PutObject", auth="sigv4", payload="sha256",
                checksum="x-amz-checksum-crc32", user_agent="aws-cli/1.0 Python"),
        _record(operation="UploadPart", auth="sigv4", payload="sha256", status=200),
        _record(operation="UploadPart", auth="sigv4", payload="sha256", status=200),
        _record(operation="ListObjectsV2", auth="sigv4"),
        _record(operation="PutObject", auth="sigv4", bucket="another-session", user_agent="x/1"),
    ]) + "\n"  # fmt: skip
    late = _record(operation="GetObject", auth="presigned-sigv2", user_agent="curl/8") + "\n"
    second = _record(operation="ListObjects", auth="sigv2", user_agent="rclone/v1") + "\n"
    # A line flushed after the session's slice ended (batched access log) still counts.
    (logs / "ceph-http.log").write_text(
        '{"level":"info","message":"not a request"}\n' + first + late
    )
    offset = len('{"level":"info","message":"not a request"}\n')
    (logs / "ceph-https.log").write_text(second)
    document = {
        "started": "2026-01-01T00:00:00Z", "seconds": 12.5, "platform": "Linux",
        "upstreams": {"ceph": "Ceph RGW 16"},
        "sessions": [
            _session("awscli-v1", "http", "ceph-http.log", offset, offset + len(first)),
            _session("rclone-pypi", "https", "ceph-https.log", 0, len(second), failed="list"),
        ],
        "skipped": [{"upstream": "ceph", "scheme": "http", "client": "awscli-v2",
                     "reason": "apt-get install awscli"}],
    }  # fmt: skip
    results = tmp_path / "results.json"
    results.write_text(json.dumps(document))
    output = tmp_path / "COMPATIBILITY.md"
    assert main(["--results", str(results), "--output", str(output)]) == 0
    text = output.read_text()
    rows: dict[str, str] = {}  # the matrix rows: each (client, scheme) row's first occurrence
    for line in text.splitlines():
        if line.startswith("| `"):
            rows.setdefault(" | ".join(line.split(" | ")[:2]), line)
    assert rows["| `awscli-v1` | http"].count("✅") == len(STEPS)
    assert rows["| `rclone-pypi` | https"].count("❌") == 1
    assert rows["| `awscli-v2` | http"].count("➖") == len(STEPS)
    assert "CommandFailed: boom" in text and "apt-get install awscli" in text
    wire = [line for line in text.splitlines() if line.startswith("| `awscli-v1` | http | aws")]
    assert wire == [
        "| `awscli-v1` | http | aws-cli/1.0 | sigv4 | PutObject: sha256; UploadPart: sha256"
        " | x-amz-checksum-crc32 | ListObjectsV2 | 2 | presigned-sigv2 |"
    ]
    assert "| `rclone-pypi` | https | rclone/v1 | sigv2 |" in text
