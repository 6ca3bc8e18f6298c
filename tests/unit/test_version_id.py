"""versionId on an unversioned store, DeleteObjects entries and PutBucketVersioning bodies."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.object import version_error
from s3proxy.model import DeleteResult
from s3proxy.xmlcodec import delete_result_xml, parse_delete_request, parse_versioning_request

WELL_FORMED = "v5n1PPUjOCMHLyyfq0ayjoZ5RZLfVQKA"  # the shape of an id S3 issues


def test_null_and_absent_address_the_object() -> None:
    assert version_error(None, "k") is None
    assert version_error("null", "k") is None


def test_a_well_formed_id_does_not_exist() -> None:
    error = version_error(WELL_FORMED, "k")
    assert error is not None
    assert (error.code, error.status) == (S3ErrorCode.NoSuchVersion, 404)
    assert error.fields == {"Key": "k", "VersionId": WELL_FORMED}


@pytest.mark.parametrize("version", ["3", "NULL", "Null", "dsf", WELL_FORMED + "x", "a/b" * 11])
def test_a_malformed_id_is_invalid_argument(version: str) -> None:
    error = version_error(version, "k")
    assert error is not None
    assert (error.code, error.message) == (
        S3ErrorCode.InvalidArgument,
        "Invalid version id specified",
    )
    assert error.fields == {"ArgumentName": "versionId", "ArgumentValue": version}


def test_an_empty_id_is_invalid_argument() -> None:
    error = version_error("", "k")
    assert error is not None
    assert error.message == "Version id cannot be the empty string"


def test_delete_request_keeps_each_entrys_version() -> None:
    body = (
        b"<Delete><Object><Key>a</Key></Object>"
        b"<Object><Key>b</Key><VersionId>null</VersionId></Object>"
        b"<Object><Key>c</Key><VersionId>3</VersionId></Object>"
        b"<Object><Key>d</Key><VersionId/></Object><Quiet>true</Quiet></Delete>"
    )
    assert parse_delete_request(body) == (True, [("a", None), ("b", "null"), ("c", "3"), ("d", "")])


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [("true", True), ("1", True), (" TRUE ", True), ("false", False), ("0", False), (None, False)],
)
def test_delete_request_reads_quiet_as_an_xml_boolean(quiet: str | None, expected: bool) -> None:
    element = "" if quiet is None else f"<Quiet>{quiet}</Quiet>"
    body = f"<Delete>{element}<Object><Key>a</Key></Object></Delete>".encode()
    assert parse_delete_request(body) == (expected, [("a", None)])


@pytest.mark.parametrize("quiet", ["maybe", "yes", "2", ""])
def test_delete_request_with_a_quiet_that_is_no_boolean_is_malformed(quiet: str) -> None:
    """Refused before anything is deleted: the client asked for something S3 cannot read."""
    body = f"<Delete><Quiet>{quiet}</Quiet><Object><Key>a</Key></Object></Delete>".encode()
    with pytest.raises(S3Error) as caught:
        parse_delete_request(body)
    assert caught.value.code is S3ErrorCode.MalformedXML


def test_delete_request_with_two_versions_in_an_entry_is_malformed() -> None:
    body = (
        b"<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId>"
        b"</Object></Delete>"
    )
    with pytest.raises(S3Error) as caught:
        parse_delete_request(body)
    assert caught.value.code is S3ErrorCode.MalformedXML


def test_delete_result_echoes_versions_and_reports_each_error() -> None:
    xml = delete_result_xml(
        [
            (DeleteResult("a"), None),
            (DeleteResult("b"), "null"),
            (DeleteResult("c", "NoSuchVersion"), "3"),
        ],
        quiet=False,
    ).decode()
    assert "<Deleted><Key>a</Key></Deleted>" in xml
    assert "<Deleted><Key>b</Key><VersionId>null</VersionId></Deleted>" in xml
    assert (
        "<Error><Key>c</Key><VersionId>3</VersionId><Code>NoSuchVersion</Code>"
        "<Message>The specified version does not exist.</Message></Error>"
    ) in xml


def test_quiet_delete_result_still_reports_errors() -> None:
    xml = delete_result_xml(
        [(DeleteResult("a"), None), (DeleteResult("c", "NoSuchVersion"), "3")], quiet=True
    ).decode()
    assert "<Deleted>" not in xml
    assert "<Code>NoSuchVersion</Code>" in xml


NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        (b"<VersioningConfiguration/>", {}),
        (f"<VersioningConfiguration {NS}>\n</VersioningConfiguration>".encode(), {}),
        (
            f"<VersioningConfiguration {NS}><Status>Enabled</Status></VersioningConfiguration>",
            {"Status": "Enabled"},
        ),
        (
            b"<VersioningConfiguration><MfaDelete>Disabled</MfaDelete>"
            b"<Status>Suspended</Status></VersioningConfiguration>",
            {"MfaDelete": "Disabled", "Status": "Suspended"},
        ),
    ],
)
def test_versioning_configuration(body: bytes | str, parsed: dict[str, str]) -> None:
    data = body.encode() if isinstance(body, str) else body
    assert parse_versioning_request(data) == parsed


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<VersioningConfiguration>",
        b"<Versioning/>",
        b"<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>",
        b"<VersioningConfiguration><Status/></VersioningConfiguration>",
        b"<VersioningConfiguration><Status>Enabled</Status><Status>Enabled</Status>"
        b"</VersioningConfiguration>",
        b"<VersioningConfiguration><Other>x</Other></VersioningConfiguration>",
        b"<VersioningConfiguration>text</VersioningConfiguration>",
        b"<VersioningConfiguration><MfaDelete>Suspended</MfaDelete></VersioningConfiguration>",
    ],
)
def test_malformed_versioning_configuration(body: bytes) -> None:
    with pytest.raises(S3Error) as caught:
        parse_versioning_request(body)
    assert caught.value.code is S3ErrorCode.MalformedXML


@pytest.mark.parametrize("condition", ["ETag", "LastModifiedTime", "Size"])
def test_conditional_delete_entries_are_refused(condition: str) -> None:
    body = f"<Delete><Object><Key>a</Key><{condition}>x</{condition}></Object></Delete>".encode()
    with pytest.raises(S3Error) as caught:
        parse_delete_request(body)
    assert caught.value.code is S3ErrorCode.NotImplemented
