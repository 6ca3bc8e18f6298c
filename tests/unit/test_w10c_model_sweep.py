"""Every request member botocore's S3 model gives a served operation is acted on or refused.

A member is a header (``x-amz-*`` or standard), a header family (``x-amz-meta-``), a query
parameter or a URI label. For each operation the gateway serves, each member must be in the
acted-on tables or the refused ones (s3proxy.header_policy for headers, s3proxy.operations'
rules for query parameters): a member in neither would be dropped by a gateway that answers
200, which is how ``x-amz-write-offset-bytes`` (an append) could overwrite an object under
``server.ignore_unknown_headers``. A botocore upgrade that adds a member fails here until the
member is placed. Operations the gateway does not serve are refused whole by the routing table
(tests/unit/test_routing_table.py).
"""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore.model import OperationModel

from s3proxy import sse
from s3proxy.checksums import ALGORITHMS, header_name
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.header_policy import (
    HEADERS,
    PREFIXES,
    REFUSED_STANDARD_HEADERS,
    STANDARD_HEADERS,
    check_request_headers,
    no_object_lock,
    not_implemented,
    rule_for,
    session_token,
)
from s3proxy.operations import REFUSALS, RULES, Operation
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

MODEL = botocore.session.get_session().get_service_model("s3")
SERVED = sorted((op for op in Operation if op not in REFUSALS), key=lambda op: op.value)
URI_LABELS = frozenset({"Bucket", "Key"})
# Checks that refuse every value (the rest act on some values and answer the others).
REFUSING_CHECKS = (not_implemented, no_object_lock, session_token)

Member = tuple[str, str]
"""(location, name on the wire): ``header``/``headers`` names lower-cased."""


def members(operation: OperationModel) -> list[Member]:
    shape = operation.input_shape
    if shape is None:
        return []
    found = []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location is None:
            continue  # the body
        wire = member.serialization.get("name", name)
        found.append((location, wire.lower() if location.startswith("header") else wire))
    return found


def verdict(operation: Operation, location: str, name: str) -> str | None:
    """'acted', 'refused', or None when no table places the member."""
    if location == "uri":
        return "acted" if name in URI_LABELS else None
    if location == "querystring":
        rules = [rule for rule in RULES if rule.operation is operation]
        return "acted" if any(rule.takes(name) for rule in rules) else "refused"
    if name.startswith("x-amz-"):
        rule = rule_for(name)
        if rule is None:
            return None
        if rule.operations is not None and operation not in rule.operations:
            return "refused"
        return "refused" if rule.check in REFUSING_CHECKS else "acted"
    if operation in REFUSED_STANDARD_HEADERS.get(name, ()):
        return "refused"
    if operation in STANDARD_HEADERS.get(name, ()):
        return "acted"
    return None


SWEEP = [
    (operation, location, name)
    for operation in SERVED
    for location, name in members(MODEL.operation_model(operation.value))
]


def test_the_sweep_covers_every_served_operation() -> None:
    assert {operation for operation, _, _ in SWEEP} == set(SERVED)
    assert len(SWEEP) > 300


def test_every_model_member_of_a_served_operation_is_acted_on_or_refused() -> None:
    unplaced = [
        f"{operation.value}: {location} {name}"
        for operation, location, name in SWEEP
        if verdict(operation, location, name) is None
    ]
    assert unplaced == []


REFUSED_HEADERS = sorted(
    {
        (operation, name)
        for operation, location, name in SWEEP
        if location == "header" and verdict(operation, location, name) == "refused"
    },
    key=lambda pair: (pair[0].value, pair[1]),
)


@pytest.mark.parametrize(
    ("operation", "name"), REFUSED_HEADERS, ids=[f"{o.value}-{n}" for o, n in REFUSED_HEADERS]
)
def test_a_refused_model_header_is_refused_even_when_unknown_headers_are_ignored(
    operation: Operation, name: str
) -> None:
    headers = {name: "1"}
    if operation in (Operation.CopyObject, Operation.UploadPartCopy):
        headers["x-amz-copy-source"] = "/src/k"
    request = parse_request(http_scope("PUT", "/bkt/k", "", headers))
    with pytest.raises(S3Error) as caught:
        check_request_headers(request, operation, ignore_unknown=True)
    error = caught.value
    if error.code is S3ErrorCode.InvalidRequest:  # object lock: S3's answer without a lock
        assert name.startswith("x-amz-object-lock-")
    elif error.code is S3ErrorCode.InvalidArgument:  # a KMS key or context without aws:kms
        assert name.startswith("x-amz-server-side-encryption-")
    else:
        assert error.code is S3ErrorCode.NotImplemented
        assert error.fields["Header"].lower() == name


def test_refused_query_members_are_refused_by_the_routing_table() -> None:
    """No served operation's query member is refused today; if one is, routing must do it."""
    refused = [
        (operation, name)
        for operation, location, name in SWEEP
        if location == "querystring" and verdict(operation, location, name) == "refused"
    ]
    assert refused == []


def test_a_conditional_delete_passes_the_header_check() -> None:
    """S3's conditional delete is carried out by the storage (501 only where the upstream
    would delete unchecked: s3proxy.backends.conditional_deletes), not refused here."""
    request = parse_request(http_scope("DELETE", "/bkt/k", "", {"If-Match": '"e"'}))
    check_request_headers(request, Operation.DeleteObject, ignore_unknown=False)
    # Where S3 defines no If-Match, the gateway ignores it as S3 does.
    query = "partNumber=1&uploadId=u"
    request = parse_request(http_scope("PUT", "/bkt/k", query, {"If-Match": "e"}))
    check_request_headers(request, Operation.UploadPart, ignore_unknown=False)


def test_the_tables_name_only_lower_case_headers_and_served_operations() -> None:
    for table in (STANDARD_HEADERS, REFUSED_STANDARD_HEADERS):
        for name, operations in table.items():
            assert name == name.lower() and not name.startswith("x-amz-")
            assert not operations & REFUSALS
    for name, operations in REFUSED_STANDARD_HEADERS.items():
        assert not operations & STANDARD_HEADERS.get(name, frozenset()), name


def test_a_header_the_tables_say_a_handler_reads_is_read_somewhere() -> None:
    """An entry without a value check claims that code reads the header: its name (or the
    prefix it is built from) must appear in s3proxy outside the table."""
    package = Path(__file__).resolve().parents[2] / "s3proxy"
    code = "\n".join(
        path.read_text() for path in package.rglob("*.py") if path.name != "header_policy.py"
    ).lower()
    built = {header_name(algorithm) for algorithm in ALGORITHMS} | {
        sse.SOURCE_CUSTOMER + suffix for suffix in ("algorithm", "key", "key-md5")
    }
    claimed = [name for name, rule in {**HEADERS, **PREFIXES}.items() if rule.check is None]
    unread = [
        name
        for name in [*claimed, *STANDARD_HEADERS]
        if name not in built and f'"{name}' not in code
    ]
    assert unread == []
