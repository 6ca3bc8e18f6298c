"""Every operation in botocore's S3 model resolves to itself or to a refusal, never another one.

Each operation is serialised by botocore's own rest-xml serializer with its required members
filled in (and once more with every query-string member filled in), parsed by
:func:`s3proxy.request.parse_request` and resolved by :func:`s3proxy.operations.resolve`.
Raw wire forms botocore cannot send (``?fooBar`` …) are covered here too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.model import OperationModel, Shape
from botocore.serialize import create_serializer

from s3proxy.operations import REFUSALS, RULES, SUBRESOURCES, Operation, Target, resolve
from s3proxy.request import parse_request
from tests.support.asgi import http_scope

MODEL = botocore.session.get_session().get_service_model("s3")
SERIALIZER = create_serializer("rest-xml", include_validation=False)

# The same wire request as a served operation: botocore sends these to another endpoint.
SAME_WIRE_AS = {"ListDirectoryBuckets": Operation.ListBuckets}  # s3express-control endpoint


def _value(shape: Shape, everything: bool, depth: int = 0) -> Any:
    if shape.type_name == "structure":
        names = shape.members if everything and depth == 0 else shape.required_members
        return {
            name: _value(shape.members[name], everything, depth + 1) for name in names if depth < 6
        }
    if shape.type_name == "list":
        return [_value(shape.member, everything, depth + 1)]  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return {"k": "v"}
    if shape.type_name in ("integer", "long"):
        return 1
    if shape.type_name in ("float", "double"):
        return 1.0
    if shape.type_name == "boolean":
        return True
    if shape.type_name == "timestamp":
        return 0
    if shape.type_name == "blob":
        return b"x"
    enum = shape.enum  # type: ignore[attr-defined]
    return enum[0] if enum else "x"


def _params(operation: OperationModel, everything: bool) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    params = _value(shape, everything)
    if "Bucket" in shape.members:
        params["Bucket"] = "bkt"
    if "Key" in shape.members:
        params["Key"] = "k"
    if "CopySource" in params:
        params["CopySource"] = "src/key"
    if "UploadId" in params:
        params["UploadId"] = "u"
    if "PartNumber" in params:
        params["PartNumber"] = 1
    if "VersionId" in params:
        params["VersionId"] = "null"
    if params.get("Prefix") == "x" and "Key" not in params:
        params["Prefix"] = "p"
    if operation.name == "ListObjectsV2":
        params["Prefix"] = "p"
    return {name: value for name, value in params.items() if value != {}}


def _scope(serialized: dict[str, Any]) -> dict[str, Any]:
    path, _, uri_query = serialized["url_path"].partition("?")
    extra = urlencode(serialized["query_string"], doseq=True)
    query = "&".join(part for part in (uri_query, extra) if part)
    headers = [
        (name.lower().encode(), str(value).encode())
        for name, value in serialized["headers"].items()
    ]
    headers.append((b"host", b"127.0.0.1:9000"))
    return {
        "type": "http",
        "method": serialized["method"],
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
    }


def _resolved(name: str, everything: bool) -> Operation:
    operation = MODEL.operation_model(name)
    serialized = SERIALIZER.serialize_to_request(_params(operation, everything), operation)
    return resolve(parse_request(_scope(serialized)))


OPERATIONS = sorted(MODEL.operation_names)
SERVED = {operation.value for operation in Operation} - {r.value for r in REFUSALS}


def test_the_model_is_the_one_this_table_was_written_from() -> None:
    assert len(OPERATIONS) >= 116
    assert set(OPERATIONS) >= SERVED


@pytest.mark.parametrize("everything", [False, True], ids=["required", "all-query-members"])
@pytest.mark.parametrize("name", OPERATIONS)
def test_each_operation_resolves_to_itself_or_a_refusal(name: str, everything: bool) -> None:
    resolved = _resolved(name, everything)
    if name in SERVED:
        assert resolved is Operation[name]
    elif name in SAME_WIRE_AS:
        assert resolved in {SAME_WIRE_AS[name], *REFUSALS}
    else:
        assert resolved in REFUSALS, f"{name} is answered by {resolved.value}"


def test_every_sub_resource_in_the_model_is_known() -> None:
    named = set()
    for name in OPERATIONS:
        uri = MODEL.operation_model(name).http["requestUri"]
        if "?" in uri:
            named.update(part.partition("=")[0] for part in uri.split("?", 1)[1].split("&"))
    named -= {"list-type", "select-type"}  # parameters with values
    assert named <= SUBRESOURCES


def test_every_query_member_in_the_model_is_a_known_parameter() -> None:
    from s3proxy.operations import PARAMETERS

    members = {
        member.serialization["name"]
        for name in OPERATIONS
        if (shape := MODEL.operation_model(name).input_shape) is not None
        for member in shape.members.values()
        if member.serialization.get("location") == "querystring"
    }
    assert members <= PARAMETERS


def _raw(method: str, path: str, query: str, headers: dict[str, str] | None = None) -> Operation:
    return resolve(parse_request(http_scope(method, path, query, headers)))


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE", "HEAD"])
@pytest.mark.parametrize("path", ["/", "/bkt", "/bkt/", "/bkt/k", "/bkt/a/b/"])
@pytest.mark.parametrize("query", ["fooBar", "fooBar=", "Acl", "uploads&fooBar", "x-id&fooBar"])
def test_unknown_flags_are_refused_everywhere(method: str, path: str, query: str) -> None:
    assert _raw(method, path, query) is Operation.Unsupported


UNSERVED = [
    (method, path, name)
    for name in sorted(SUBRESOURCES - {"location", "versioning", "uploads", "delete"})
    for path, target in (("/bkt", Target.BUCKET), ("/bkt/k", Target.OBJECT))
    for method in ("GET", "PUT", "POST", "DELETE", "HEAD")
    if not any((r.method, r.target, r.subresource) == (method, target, name) for r in RULES)
]
"""Every (method, target, sub-resource) that no Rule serves."""


@pytest.mark.parametrize(("method", "path", "name"), UNSERVED)
def test_unserved_sub_resources_are_refused_on_every_method(
    method: str, path: str, name: str
) -> None:
    for query in (name, f"{name}=", f"{name}=1", f"{name}&x-id=PutObject"):
        assert _raw(method, path, query) is Operation.Unsupported
