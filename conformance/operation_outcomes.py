"""What one operation's call got, and which operation the proxy resolved it as (its access-log
line, joined by ``x-amz-request-id``): the verdicts of :mod:`conformance.operations_report`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

LOG_DEADLINE = 10.0  # seconds to wait for access-log lines, which trail the response a little
POLL_INTERVAL = 0.05

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


def botocore_operations() -> list[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    return list(model.operation_names)


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
