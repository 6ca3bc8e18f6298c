"""Owner ids (derived, configured, distinct) and the bucket owner condition."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3proxy.config import ConfigError, Settings, effective_config_yaml, load_settings
from s3proxy.errors import S3Error
from s3proxy.operations import Operation
from s3proxy.owner import Owner, check_expected_owner, derived_owner_id, owner_id
from s3proxy.request import S3Request, parse_request
from s3proxy.xmlcodec import list_buckets_xml, list_objects_xml

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ALICE = "799980277586"


def test_derived_id_is_stable_and_twelve_digits() -> None:
    # Pinned: a changed derivation would change every tenant's visible owner id.
    assert derived_owner_id("alice") == ALICE
    assert derived_owner_id("bob") == "034090393947"  # leading zero kept
    ids = {derived_owner_id(f"tenant-{i}") for i in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 12 and i.isdigit() for i in ids)


def test_configured_id_wins() -> None:
    assert owner_id("alice", "000000000001") == "000000000001"
    assert owner_id("alice", None) == ALICE


def request(headers: dict[str, str] | None = None, query: str = "") -> S3Request:
    raw = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "method": "PUT",
        "path": "/b/k",
        "raw_path": b"/b/k",
        "query_string": query.encode(),
        "headers": [*raw, (b"host", b"127.0.0.1")],
    }
    return parse_request(scope)


def refusal(req: S3Request, operation: Operation = Operation.PutObject) -> tuple[int, str] | None:
    try:
        check_expected_owner(req, operation, ALICE)
    except S3Error as error:
        return error.status, error.code.name
    return None


@pytest.mark.parametrize("operation", [Operation.PutObject, Operation.ListBuckets])
def test_expected_owner_matching_or_absent_is_served(operation: Operation) -> None:
    assert refusal(request(), operation) is None
    assert refusal(request({"x-amz-expected-bucket-owner": ALICE}), operation) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("000000000000", (403, "AccessDenied")),
        ("034090393947", (403, "AccessDenied")),  # bob's id: another tenant is still not alice
        ("", (400, "InvalidBucketOwnerAWSAccountID")),
        ("alice", (400, "InvalidBucketOwnerAWSAccountID")),
        ("79998027758", (400, "InvalidBucketOwnerAWSAccountID")),
        ("7999802775860", (400, "InvalidBucketOwnerAWSAccountID")),
        (f"{ALICE},{ALICE}", (400, "InvalidBucketOwnerAWSAccountID")),  # header sent twice
    ],
)
def test_expected_owner_that_differs_is_refused(value: str, expected: tuple[int, str]) -> None:
    assert refusal(request({"x-amz-expected-bucket-owner": value})) == expected


def test_expected_owner_hoisted_into_the_query_is_checked() -> None:
    assert refusal(request(query="x-amz-expected-bucket-owner=000000000000")) == (
        403,
        "AccessDenied",
    )
    assert refusal(request(query=f"X-Amz-Expected-Bucket-Owner={ALICE}")) is None


@pytest.mark.parametrize("operation", [Operation.CopyObject, Operation.UploadPartCopy])
def test_source_expected_owner_is_checked_on_copies(operation: Operation) -> None:
    source = "x-amz-source-expected-bucket-owner"
    assert refusal(request({source: ALICE}), operation) is None
    assert refusal(request({source: "000000000000"}), operation) == (403, "AccessDenied")
    assert refusal(request({source: "x"}), operation) == (400, "InvalidBucketOwnerAWSAccountID")
    wrong_target = {source: ALICE, "x-amz-expected-bucket-owner": "000000000000"}
    assert refusal(request(wrong_target), operation) == (403, "AccessDenied")


def test_source_expected_owner_describes_nothing_outside_copies() -> None:
    assert refusal(request({"x-amz-source-expected-bucket-owner": "000000000000"})) is None


def test_owner_is_rendered_with_id_and_tenant_name() -> None:
    owner = Owner(ALICE, "alice")
    root = ET.fromstring(list_buckets_xml(owner, [("b", "2026-01-01T00:00:00.000Z")]))
    assert root.findtext(f"{NS}Owner/{NS}ID") == ALICE
    assert root.findtext(f"{NS}Owner/{NS}DisplayName") == "alice"
    listing = list_objects_xml([], [], [], encode=False, owner=owner)
    assert ET.fromstring(listing).find(f"{NS}Contents") is None


# --- configuration -------------------------------------------------------------------------


def config(**owners: Any) -> dict[str, Any]:
    tenants = {}
    for index, name in enumerate(["alice", "bob", "carol"]):
        tenant: dict[str, Any] = {
            "keys": [{"access_key": f"AK{name.upper()}", "secret_key": f"secret-{index}-xxxxx"}]
        }
        if name in owners:
            tenant["owner_id"] = owners[name]
        tenants[name] = tenant
    upstream = {"endpoint": "http://127.0.0.1:8333", "access_key": "ak", "secret_key": "sk"}
    return {"upstreams": {"main": upstream}, "tenants": tenants}


def load(tmp_path: Path, data: dict[str, Any], text: str | None = None) -> Settings:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(data))
    return load_settings(path, env={})


def error_of(tmp_path: Path, data: dict[str, Any], text: str | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, data, text)
    return str(caught.value)


def test_owner_ids_default_to_derived_and_are_shown_by_check_config(tmp_path: Path) -> None:
    settings = load(tmp_path, config(bob="000000000042"))
    ids = settings.owner_ids()
    assert ids == {"alice": ALICE, "bob": "000000000042", "carol": derived_owner_id("carol")}
    effective = yaml.safe_load(effective_config_yaml(settings))
    assert {name: t["owner_id"] for name, t in effective["tenants"].items()} == ids


def test_unquoted_twelve_digit_yaml_number_is_taken(tmp_path: Path) -> None:
    text = yaml.safe_dump(config()).replace("alice:\n", "alice:\n    owner_id: 123456789012\n", 1)
    assert load(tmp_path, {}, text).owner_ids()["alice"] == "123456789012"


def test_owner_id_from_the_environment_keeps_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(yaml.safe_dump(config()))
    env = {"S3PROXY_TENANTS__ALICE__OWNER_ID": "000000000007"}
    assert load_settings(path, env=env).owner_ids()["alice"] == "000000000007"


@pytest.mark.parametrize("value", ["12345678901", "1234567890123", "12345678901a", 42, True])
def test_owner_id_must_be_twelve_digits(tmp_path: Path, value: Any) -> None:
    message = error_of(tmp_path, config(alice=value))
    assert message.startswith("tenants.alice.owner_id:")
    assert "12 digits" in message or "string" in message


def test_a_shorter_yaml_number_is_refused_not_padded(tmp_path: Path) -> None:
    # 000000000001 is octal 1 to YAML: padding it back could name another tenant's id.
    text = yaml.safe_dump(config()).replace("alice:\n", "alice:\n    owner_id: 000000000001\n", 1)
    assert "tenants.alice.owner_id" in error_of(tmp_path, {}, text)


def test_configured_ids_must_be_distinct(tmp_path: Path) -> None:
    message = error_of(tmp_path, config(alice="000000000001", carol="000000000001"))
    assert message == (
        "tenants.carol.owner_id: owner id 000000000001 (configured) is already "
        "tenants.alice's; give each tenant its own"
    )


def test_a_configured_id_may_not_take_another_tenants_derived_id(tmp_path: Path) -> None:
    message = error_of(tmp_path, config(bob=ALICE))
    assert message == (
        f"tenants.bob.owner_id: owner id {ALICE} (configured) is already "
        "tenants.alice's; give each tenant its own"
    )
