"""Every S3 operation in botocore's model, called once against a running proxy: served or refused?

Why this exists: a gateway that routes by a table can answer a request it does not understand
with a *different* operation (issue 14: ``PUT ?annotation`` served as PutObject overwrote the
object). This script calls each operation of botocore's S3 model once, with boto3 (retries off,
minimal parameters, a scratch bucket and object it creates and removes), and joins each response
to the proxy's access-log line by ``x-amz-request-id`` to learn which operation the proxy
resolved. Each operation is then

- ``served``: resolved as itself (or as an operation that is the same request on the wire),
  whatever the answer;
- ``refused (Code)``: not served as itself, answered with an error;
- ``misrouted``: resolved as another S3 operation, whatever the status;

and is flagged when the answer was a 5xx other than 501/503, or when a refused operation changed
the scratch object or bucket. Run against a running proxy (``--log`` is its access log)::

    python -m conformance.operations_report run --endpoint http://127.0.0.1:9000 \\
        --access-key AK --secret-key SK --log proxy.log --lane local
    python -m conformance.operations_report render   # the COMPATIBILITY.md section

``tests/integration/test_operation_table.py`` runs it on every lane of the ``proxy`` fixture and
writes ``build/operations/<lane>.json``, which ``render`` reads. The parts:
:mod:`conformance.operation_calls` (the calls), :mod:`conformance.operation_outcomes` (verdicts,
the access-log join) and :mod:`conformance.operations_section` (the COMPATIBILITY.md section).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.operation_calls import call_all
from conformance.operation_outcomes import botocore_operations, resolve_from_log
from conformance.operations_section import LANE_ORDER, problems, render_section, splice

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "build" / "operations"
OUTPUT = REPO_ROOT / "COMPATIBILITY.md"


def run(
    endpoint: str, access_key: str, secret_key: str, read_log: Callable[[], str], lane: str
) -> dict[str, Any]:
    """Call every operation and join the log: the document ``write_results`` stores."""
    import botocore

    outcomes = resolve_from_log(call_all(endpoint, access_key, secret_key), read_log)
    names = botocore_operations()
    return {
        "lane": lane,
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "botocore": botocore.__version__,
        "outcomes": [
            {**asdict(o), "verdict": o.verdict(names), "server_error": o.server_error}
            for o in outcomes
        ],
    }


def write_results(document: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{document['lane']}.json"
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    call = commands.add_parser("run", help="call every operation against a running proxy")
    call.add_argument("--endpoint", required=True)
    call.add_argument("--access-key", required=True)
    call.add_argument("--secret-key", required=True)
    call.add_argument("--log", type=Path, required=True, help="the proxy's access log")
    call.add_argument("--lane", required=True, help="a name for the upstream, e.g. local")
    call.add_argument("--results", type=Path, default=RESULTS_DIR)
    show = commands.add_parser("render", help="write the COMPATIBILITY.md section")
    show.add_argument("--results", type=Path, default=RESULTS_DIR)
    show.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.command == "run":
        log: Path = args.log
        document = run(
            args.endpoint,
            args.access_key,
            args.secret_key,
            lambda: log.read_text(errors="replace"),
            args.lane,
        )
        path = write_results(document, args.results)
        found = problems(document)
        print(f"wrote {path}; {len(found)} problems", *found, sep="\n")
        return 1 if found else 0
    documents = [json.loads(p.read_text()) for p in sorted(args.results.glob("*.json"))]
    documents = [d for d in documents if d.get("lane") in LANE_ORDER]
    old = args.output.read_text() if args.output.exists() else "# Compatibility\n"
    args.output.write_text(splice(old, render_section(documents)))
    print(f"wrote the operations section of {args.output} ({len(documents)} lanes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
