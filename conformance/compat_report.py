"""Write COMPATIBILITY.md from the last client run, never by hand.

Why generated: a hand-kept matrix drifts from what the clients really do. ``tests/clients``
records every session's step results in ``build/conformance/results.json`` and keeps each
proxy's access log next to it (``logs/<upstream>-<scheme>.log``); every access-log record
carries ``operation``, ``auth``, ``payload``, ``checksum`` and ``user_agent``. This script reads
both and writes the client × upstream × step matrix, the client versions, and what each client
sent on the wire. Run::

    S3PROXY_TEST_EVERY_CELL=1 python -m pytest -m clients tests/clients \
        && python -m conformance.compat_report

(``S3PROXY_TEST_EVERY_CELL=1``: the TLS sessions on every upstream, which CI runs on the local
store only, tests/conftest.py.)

Known failures come with their reason from ``tests/expected_failures.py`` (the same list that
marks the tests strict-xfail).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.operations_section import carried_section, splice
from conformance.sessions.base import STEPS
from conformance.sessions.clients import CLIENTS

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "build" / "conformance" / "results.json"
OUTPUT = REPO_ROOT / "COMPATIBILITY.md"
UPSTREAM_ORDER = ("seaweedfs", "ceph", "local")
SCHEMES = ("http", "https")
UPLOADS = ("PutObject", "UploadPart")
MARK = {"passed": "✅", "failed": "❌", "known": "⚠️", "skipped": "➖", "missing": " "}


@dataclass(frozen=True)
class Cell:
    status: str  # passed | failed | known | skipped | missing
    detail: str = ""


def load_expected_failures() -> dict[str, str]:
    """The strict-xfail list, if this checkout has it (it lives with the tests)."""
    try:
        module = importlib.import_module("tests.expected_failures")
    except ImportError:
        return {}
    failures: dict[str, str] = module.EXPECTED_FAILURES
    return failures


def node_id(upstream: str, scheme: str, client: str, step: str) -> str:
    return f"tests/clients/test_sessions.py::test_step[{scheme}-{upstream}-{client}-{step}]"


def known_reason(expected: dict[str, str], nodeid: str) -> str | None:
    for pattern, reason in expected.items():
        if re.search(pattern, nodeid):
            return reason
    return None


def read_records(logs: Path, session: dict[str, Any]) -> list[dict[str, Any]]:
    """The access-log records of one session: those naming its bucket (each session has its
    own), from where its slice of its proxy's log starts to the end of the log. The proxy
    writes access lines in batches (up to 1 s late), so a byte slice alone would hand a
    session's last lines to whatever ran next."""
    path = logs / session["log_file"]
    if not path.exists():
        return []
    with path.open("rb") as log:
        log.seek(session["log_start"])
        text = log.read().decode(errors="replace")
    records = []
    for line in text.splitlines():
        if '"request_id"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("bucket") == session["bucket"]:
                records.append(record)
    return records


def _distinct(values: Iterable[str]) -> str:
    return ", ".join(sorted(set(values))) or "-"


def wire_summary(sessions: Sequence[Sequence[dict[str, Any]]]) -> dict[str, str]:
    """What the client sent, as the proxy saw it, over the records of one or more sessions."""
    records = [r for session in sessions for r in session]
    own = [r for r in records if not str(r.get("auth", "")).startswith("presigned")]
    uploads = [r for r in own if r.get("operation") in UPLOADS]
    parts = (
        sum(1 for r in session if r.get("operation") == "UploadPart" and r.get("status") == 200)
        for session in sessions
    )
    return {
        "agent": _distinct(str(r.get("user_agent", "(none)")).split(" ")[0] for r in own),
        "auth": _distinct(str(r["auth"]) for r in own if "auth" in r),
        "payload": "; ".join(
            f"{op}: {_distinct(str(r.get('payload')) for r in uploads if r['operation'] == op)}"
            for op in UPLOADS
        ),
        "checksum": _distinct(str(r["checksum"]) for r in uploads if "checksum" in r),
        "listing": _distinct(
            str(r["operation"]) for r in own if str(r.get("operation", "")).startswith("ListObj")
        ),
        "parts": _distinct(str(n) for n in parts),
        "presign": _distinct(str(r["auth"]) for r in records if r not in own),
    }


def _cells(
    document: dict[str, Any], expected: dict[str, str]
) -> dict[tuple[str, str, str, str], Cell]:
    cells: dict[tuple[str, str, str, str], Cell] = {}
    for session in document["sessions"]:
        for step in session["steps"]:
            key = (session["upstream"], session["scheme"], session["client"], step["name"])
            status = step["status"]
            detail = step["detail"].splitlines()[0] if step["detail"] else ""
            if status == "failed":
                reason = known_reason(expected, node_id(*key))
                if reason is not None:
                    status, detail = "known", reason
            cells[key] = Cell(status, detail)
    for skipped in document.get("skipped", []):
        for step in STEPS:
            key = (skipped["upstream"], skipped["scheme"], skipped["client"], step)
            cells[key] = Cell("skipped", skipped["reason"])
    return cells


def render(document: dict[str, Any], logs: Path, expected: dict[str, str]) -> str:
    cells = _cells(document, expected)
    sessions = document["sessions"]
    upstreams = [u for u in UPSTREAM_ORDER if u in document["upstreams"]]
    ran = {s["client"] for s in sessions} | {s["client"] for s in document.get("skipped", [])}
    clients = [spec for spec in CLIENTS if spec.name in ran]
    lines = [
        "# Compatibility",
        "",
        "<!-- Generated by `python -m conformance.compat_report` from the last client run."
        " Do not edit by hand. -->",
        "",
        "Real S3 clients, each through one scripted session (`conformance/sessions/`), against"
        " the proxy in front of real upstreams, over HTTP and over TLS. Generated from the run"
        f" of {document['started']} ({document['platform']}, {document['seconds']} s) by"
        " `python -m conformance.compat_report`; to regenerate:",
        "",
        "```sh",
        "S3PROXY_TEST_EVERY_CELL=1 python -m pytest -m clients tests/clients &&"
        " python -m conformance.compat_report",
        "```",
        "",
        "(`S3PROXY_TEST_EVERY_CELL=1` keeps the TLS sessions on SeaweedFS and Ceph RGW, which"
        " CI runs on the local store only.)",
        "",
        "Each session: make bucket, list buckets, upload a small file, upload a 12 MiB file in"
        " parts, list one level, list recursively, download both and compare bytes, sync a tree"
        " up and down (names with spaces, unicode, `+`, `=`, a dot file), presign a GET and fetch"
        " it with plain HTTP, remove recursively, remove the bucket.",
        "",
        f"Legend: {MARK['passed']} works · {MARK['known']} known failure (reason below,"
        f" strict xfail in `tests/expected_failures.py`) · {MARK['failed']} fails ·"
        f" {MARK['skipped']} not run (client not installed).",
        "",
        "## Versions",
        "",
        "| component | version | from |",
        "|---|---|---|",
    ]
    for name in upstreams:
        lines.append(f"| upstream `{name}` | {document['upstreams'][name]} | |")
    for spec in clients:
        versions = sorted({s["version"] for s in sessions if s["client"] == spec.name})
        shown = ", ".join(versions) or "not installed"
        lines.append(f"| `{spec.name}` | {shown} | {spec.source} |")
    steps_header = " | ".join(f"`{step}`" for step in STEPS)
    for upstream in upstreams:
        lines += ["", f"## {document['upstreams'][upstream]}", ""]
        lines += [f"| client | scheme | {steps_header} |", "|---|---|" + "---|" * len(STEPS)]
        for spec in clients:
            for scheme in SCHEMES:
                row = [cells.get((upstream, scheme, spec.name, s), Cell("missing")) for s in STEPS]
                if all(c.status == "missing" for c in row):
                    continue
                marks = " | ".join(MARK[c.status] for c in row)
                lines.append(f"| `{spec.name}` | {scheme} | {marks} |")
    lines += _problems(cells)
    lines += _wire(sessions, clients, logs)
    return "\n".join(lines) + "\n"


def _problems(cells: dict[tuple[str, str, str, str], Cell]) -> list[str]:
    by_reason: dict[tuple[str, str], list[str]] = {}
    for (upstream, scheme, client, step), cell in sorted(cells.items()):
        if cell.status in ("failed", "known", "skipped"):
            by_reason.setdefault((cell.status, cell.detail), []).append(
                f"{client} {step} ({upstream}, {scheme})"
            )
    if not by_reason:
        return ["", "## Not green", "", "Nothing: every cell passed."]
    lines = ["", "## Not green", ""]
    for (status, reason), where in sorted(by_reason.items()):
        shown = "; ".join(where[:6]) + (f"; … {len(where) - 6} more" if len(where) > 6 else "")
        lines.append(f"- {MARK[status]} **{status}** ({len(where)} cells): {reason}  ")
        lines.append(f"  cells: {shown}")
    return lines


def _wire(sessions: list[dict[str, Any]], clients: Sequence[Any], logs: Path) -> list[str]:
    lines = [
        "",
        "## What each client sent",
        "",
        "From the proxy's access log (both upstreams; `payload` is the `x-amz-content-sha256`"
        " mode of each upload request, `sha256` meaning a literal hash (SigV2 signs no payload"
        " hash: the proxy records `UNSIGNED-PAYLOAD`); `checksum` the"
        " `x-amz-checksum-*` header or `x-amz-trailer`; `parts` the UploadParts of one session's"
        " 12 MiB upload).",
        "",
        "| client | scheme | user agent | auth | uploads: payload | checksum | listing | parts"
        " | presigned GET |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for spec in clients:
        for scheme in SCHEMES:
            runs = [s for s in sessions if s["client"] == spec.name and s["scheme"] == scheme]
            if not runs:
                continue
            wire = wire_summary([read_records(logs, run) for run in runs])
            lines.append(
                f"| `{spec.name}` | {scheme} | {wire['agent']} | {wire['auth']} |"
                f" {wire['payload']} | {wire['checksum']} | {wire['listing']} | {wire['parts']}"
                f" | {wire['presign']} |"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    document = json.loads(args.results.read_text())
    text = render(document, args.results.parent / "logs", load_expected_failures())
    # The S3 operations table is another generator's section (conformance/operations_report.py)
    kept = carried_section(args.output.read_text()) if args.output.exists() else None
    args.output.write_text(text if kept is None else splice(text, kept))
    print(f"wrote {args.output} from {args.results} ({len(document['sessions'])} sessions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
