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
writes ``build/operations/<lane>.json``, which ``render`` reads.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.s3client import boto3_client

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "build" / "operations"
OUTPUT = REPO_ROOT / "COMPATIBILITY.md"
LANE_ORDER = ("seaweedfs", "ceph", "local")
OBJECT_KEY = "ops-object"
OBJECT_BODY = b"operations report scratch object\n"
LOG_DEADLINE = 10.0  # seconds to wait for access-log lines, which trail the response a little
POLL_INTERVAL = 0.05
BEGIN = "<!-- BEGIN operations_report -->"
END = "<!-- END operations_report -->"

# Operations that are the same request on the wire as another one: to the proxy they are that
# operation, so being answered by it is not a misroute. ListDirectoryBuckets differs from
# ListBuckets only by its AWS endpoint (s3express-control); the deprecated lifecycle and
# notification calls use the same sub-resource as their successors.
WIRE_ALIASES: dict[str, str] = {
    "ListDirectoryBuckets": "ListBuckets",
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
}
REFUSAL_STATUSES = frozenset({405, 501})
ALLOWED_5XX = frozenset({501, 503})


@dataclass(frozen=True)
class Outcome:
    """One operation's call: what the client got and what the proxy resolved."""

    operation: str
    status: int | None
    """HTTP status; None when no response came back."""
    code: str
    """The S3 error code ("" on success), or the client-side exception's name."""
    request_id: str | None
    resolved: str | None
    """The access log's ``operation`` for this request; None when no line was found."""
    authenticated: bool = False
    """Whether the proxy authenticated the request (its log line names the tenant)."""
    changed: str = ""
    """What the call changed in the scratch bucket/object ("" when nothing); a problem only
    when the operation was not served (PutObject served is meant to overwrite it)."""

    @property
    def expected(self) -> set[str]:
        return {self.operation, WIRE_ALIASES.get(self.operation, self.operation)}

    def is_misrouted(self, operations: Iterable[str]) -> bool:
        return self.resolved in set(operations) and self.resolved not in self.expected

    @property
    def served(self) -> bool:
        """Resolved as itself, authenticated, and not answered 405/501: its handler ran."""
        return (
            self.resolved in self.expected
            and self.authenticated
            and self.status not in REFUSAL_STATUSES
        )

    @property
    def server_error(self) -> bool:
        return self.status is not None and self.status >= 500 and self.status not in ALLOWED_5XX

    def verdict(self, operations: Iterable[str]) -> str:
        if self.is_misrouted(operations):
            return f"misrouted as {self.resolved}"
        if self.served:
            return "served"
        if self.status is None or self.resolved is None:
            return f"unreached ({self.code})"
        return f"refused ({self.status} {self.code})"


# --------------------------------------------------------------------------------------------
# Minimal parameters


@dataclass
class Scratch:
    bucket: str
    upload_id: Callable[[], str]
    """A fresh multipart upload of the scratch key."""


def minimal_params(operation_model: Any, scratch: Scratch) -> dict[str, Any]:
    """Only the required members, with values that address the scratch bucket and object."""
    name = operation_model.name
    shape = operation_model.input_shape
    if shape is None:
        return {}
    params = {m: _value(shape.members[m], m, name, scratch) for m in shape.required_members}
    if name == "CreateBucket":
        params["Bucket"] = f"{scratch.bucket}-new"
    if name == "DeleteBucket":
        params["Bucket"] = f"{scratch.bucket}-new"  # made by CreateBucket, empty
    if name in ("CopyObject", "RenameObject"):
        params["Key"] = f"{OBJECT_KEY}-{name.lower()}"
    return params


def _value(shape: Any, member: str, operation: str, scratch: Scratch) -> Any:
    named: dict[str, Callable[[], Any]] = {
        "Bucket": lambda: scratch.bucket,
        "Key": lambda: OBJECT_KEY,
        "UploadId": scratch.upload_id,
        "PartNumber": lambda: 1,
        "CopySource": lambda: f"{scratch.bucket}/{OBJECT_KEY}",
        "RenameSource": lambda: f"/{scratch.bucket}/{OBJECT_KEY}",
        "Delete": lambda: {"Objects": [{"Key": f"{OBJECT_KEY}-absent"}]},
        "ObjectAttributes": lambda: ["ETag"],
        "Id": lambda: "ops",
        "Expression": lambda: "SELECT * FROM S3Object",
    }
    if member in named:
        return named[member]()
    kind = shape.type_name
    if kind == "structure":
        members = shape.required_members
        if shape.metadata.get("union"):  # exactly one member must be set
            members = [next(iter(shape.members))]
        return {m: _value(shape.members[m], m, operation, scratch) for m in members}
    if kind == "list":
        return [_value(shape.member, member, operation, scratch)]
    if kind == "map":
        return {}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        return "x" * max(1, int(shape.metadata.get("min", 1)))
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.now(UTC)
    if kind == "blob":
        return b"x"
    return "x"


# --------------------------------------------------------------------------------------------
# Calling


def _client(endpoint: str, access_key: str, secret_key: str) -> Any:
    return boto3_client(
        endpoint,
        access_key,
        secret_key,
        retries={"total_max_attempts": 1, "mode": "standard"},
        inject_host_prefix=False,  # WriteGetObjectResponse would prepend its route to the host
    )


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


def _state(client: Any, bucket: str) -> tuple[bool, str | None]:
    """(bucket exists, the scratch object's ETag or None)."""
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        return False, None
    try:
        return True, str(client.head_object(Bucket=bucket, Key=OBJECT_KEY)["ETag"])
    except ClientError:
        return True, None


def _prepare(client: Any, bucket: str) -> tuple[bool, str | None]:
    """The scratch bucket with the scratch object in it, as before every call."""
    exists, etag = _state(client, bucket)
    if not exists:
        client.create_bucket(Bucket=bucket)
    if etag is None:
        etag = str(client.put_object(Bucket=bucket, Key=OBJECT_KEY, Body=OBJECT_BODY)["ETag"])
    return True, etag


def call_all(
    endpoint: str, access_key: str, secret_key: str, operations: Sequence[str] | None = None
) -> list[Outcome]:
    """Each operation once (all of botocore's S3 model by default); ``resolved`` left None."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(endpoint, access_key, secret_key)
    model = client.meta.service_model
    bucket = f"ops-{secrets.token_hex(4)}"
    seen: dict[str, Any] = {}

    def capture(response_dict: dict[str, Any], **_: Any) -> None:
        seen["status"] = response_dict.get("status_code")
        seen["request_id"] = response_dict.get("headers", {}).get("x-amz-request-id")

    client.meta.events.register("before-parse.s3.*", capture)

    def upload_id() -> str:
        return str(client.create_multipart_upload(Bucket=bucket, Key=OBJECT_KEY)["UploadId"])

    scratch = Scratch(bucket, upload_id)
    outcomes = []
    try:
        for name in operations or model.operation_names:
            before = _prepare(client, bucket)
            params = minimal_params(model.operation_model(name), scratch)
            seen.clear()
            code = ""
            try:
                response = getattr(client, _snake(name))(**params)
                body = response.get("Body") if isinstance(response, dict) else None
                if body is not None and hasattr(body, "close"):
                    body.close()
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", "")) or "ClientError"
            except (BotoCoreError, ValueError) as error:
                code = type(error).__name__
            status, request_id = seen.get("status"), seen.get("request_id")
            changed = _change(before, _state(client, bucket))
            outcomes.append(Outcome(name, status, code, request_id, None, changed=changed))
    finally:
        _cleanup(client, bucket)
    return outcomes


def _change(before: tuple[bool, str | None], after: tuple[bool, str | None]) -> str:
    if not after[0]:
        return "deleted the bucket"
    if after[1] is None:
        return "deleted the object"
    if after[1] != before[1]:
        return "overwrote the object"
    return ""


def _cleanup(client: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    for name in (bucket, f"{bucket}-new"):
        try:
            for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
                client.abort_multipart_upload(
                    Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            for item in client.list_objects_v2(Bucket=name).get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
            client.delete_bucket(Bucket=name)
        except ClientError:
            continue


# --------------------------------------------------------------------------------------------
# The access log


def access_records(log_text: str) -> dict[str, dict[str, Any]]:
    """The proxy's access-log records by request id (other lines ignored)."""
    records = {}
    for line in log_text.splitlines():
        if line.startswith("{") and '"request_id"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            records[str(record["request_id"])] = record
    return records


def resolve_from_log(
    outcomes: Sequence[Outcome], read_log: Callable[[], str], deadline: float = LOG_DEADLINE
) -> list[Outcome]:
    """``outcomes`` completed from the access log, polled until every line is there or
    ``deadline`` seconds pass (a line is written once its response is sent). The log's status
    and error code are the proxy's own; the client's may differ (botocore turns a 200 it
    cannot parse into a 500)."""
    wanted = {o.request_id for o in outcomes if o.request_id}
    until = time.monotonic() + deadline
    records = access_records(read_log())
    while not wanted <= records.keys() and time.monotonic() < until:
        time.sleep(POLL_INTERVAL)
        records = access_records(read_log())
    resolved = []
    for outcome in outcomes:
        record = records.get(outcome.request_id or "")
        if record is None:
            resolved.append(outcome)
            continue
        operation = record.get("operation")
        resolved.append(
            Outcome(
                outcome.operation,
                int(record.get("status", outcome.status or 0)),
                str(record.get("error", "")),
                outcome.request_id,
                None if operation is None else str(operation),
                authenticated="tenant" in record,
                changed=outcome.changed,
            )
        )
    return resolved


# --------------------------------------------------------------------------------------------
# Results and the COMPATIBILITY.md section


def botocore_operations() -> list[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    return list(model.operation_names)


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


def load_outcomes(document: dict[str, Any]) -> list[Outcome]:
    fields = Outcome.__dataclass_fields__
    return [Outcome(**{k: v for k, v in o.items() if k in fields}) for o in document["outcomes"]]


def problems(document: dict[str, Any]) -> list[str]:
    """Misroutes, 5xx other than 501/503, and refusals that changed something: each a line."""
    names = botocore_operations()
    found = []
    for outcome in load_outcomes(document):
        what = f"{document['lane']}: {outcome.operation}"
        if outcome.is_misrouted(names):
            found.append(f"{what} answered by {outcome.resolved} ({outcome.status})")
        if outcome.server_error:
            found.append(f"{what} answered {outcome.status} {outcome.code}")
        if outcome.changed and not outcome.served:
            found.append(f"{what} refused but {outcome.changed}")
    return found


def write_results(document: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{document['lane']}.json"
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def _cell(outcome: Outcome | None, names: Sequence[str]) -> str:
    if outcome is None:
        return " "
    verdict = outcome.verdict(names)
    flags = []
    if outcome.server_error:
        flags.append("⚠️ 5xx")
    if outcome.changed and not outcome.served:
        flags.append(f"⚠️ {outcome.changed}")
    if verdict.startswith("misrouted"):
        verdict = f"❌ {verdict}"
    elif verdict == "served" and outcome.code:
        verdict = f"served ({outcome.status} {outcome.code})"
    return "; ".join([verdict, *flags])


def render_section(documents: Sequence[dict[str, Any]]) -> str:
    names = botocore_operations()
    lanes = sorted(documents, key=lambda d: LANE_ORDER.index(d["lane"]))
    by_lane = {d["lane"]: {o.operation: o for o in load_outcomes(d)} for d in lanes}
    header = " | ".join(f"`{d['lane']}`" for d in lanes)
    lines = [
        BEGIN,
        "",
        "## S3 operations",
        "",
        "<!-- Generated by `python -m conformance.operations_report render` from"
        " `build/operations/*.json`. Do not edit by hand. -->",
        "",
        "Every operation of botocore's S3 model, called once with boto3 (minimal parameters,"
        " retries off) by `tests/integration/test_operation_table.py`; which operation the proxy"
        " resolved comes from its access log. **served**: resolved as itself, whatever it"
        " answered (a served call with an error shows it); **refused**: not carried out, with"
        " the status and code shown; ❌ **misrouted**: answered by another operation. ⚠️ marks a"
        " 5xx other than 501/503, or a refusal that changed the scratch bucket or object."
        " To regenerate:",
        "",
        "```sh",
        "python -m pytest tests/integration/test_operation_table.py"
        "; python -m conformance.operations_report render",
        "```",
        "",
        "| lane | botocore | run | served | refused | misrouted | 5xx (not 501/503) |",
        "|---|---|---|---|---|---|---|",
    ]
    for document in lanes:
        outcomes = list(by_lane[document["lane"]].values())
        verdicts = [o.verdict(names) for o in outcomes]
        lines.append(
            f"| `{document['lane']}` | {document['botocore']} | {document['started']} |"
            f" {sum(v == 'served' for v in verdicts)} |"
            f" {sum(v.startswith(('refused', 'unreached')) for v in verdicts)} |"
            f" {sum(v.startswith('misrouted') for v in verdicts)} |"
            f" {sum(o.server_error for o in outcomes)} |"
        )
    lines += ["", f"| operation | {header} |", "|---|" + "---|" * len(lanes)]
    operations = sorted({name for lane in by_lane.values() for name in lane})
    for name in operations:
        cells = " | ".join(_cell(by_lane[d["lane"]].get(name), names) for d in lanes)
        lines.append(f"| `{name}` | {cells} |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def splice(text: str, section: str) -> str:
    """``text`` with its operations section replaced by ``section`` (appended if it has none)."""
    start, end = text.find(BEGIN), text.find(END)
    if start == -1 or end == -1:
        return text.rstrip("\n") + "\n\n" + section
    return text[:start] + section + text[end + len(END) :].lstrip("\n")


def carried_section(old_text: str) -> str | None:
    """The operations section of an existing COMPATIBILITY.md, for a rewrite to keep."""
    start, end = old_text.find(BEGIN), old_text.find(END)
    if start == -1 or end == -1:
        return None
    return old_text[start : end + len(END)] + "\n"


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
