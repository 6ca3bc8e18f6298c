"""Each S3 operation of botocore's model called once with boto3, minimal parameters, against a
scratch bucket and object it creates and removes (:mod:`conformance.operations_report`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conformance.operation_outcomes import Outcome
from conformance.s3client import boto3_client

OBJECT_KEY = "ops-object"
OBJECT_BODY = b"operations report scratch object\n"


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
