"""Two client XML values were still read as their first text (wave 18, R3F of R3's review of
6188375, which made the others MalformedXML): DeleteObjects' ``<Quiet>`` and
PutBucketOwnershipControls' ``<ObjectOwnership>``. S3 validates bodies against its schema, so a
value element holding an element is MalformedXML, never the text before it."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.handlers.lock_ownership import parse_ownership_controls
from s3proxy.xmlcodec import parse_delete_entries

OBJECT = "<Object><Key>k</Key></Object>"


@pytest.mark.parametrize(
    "quiet",
    ["<Quiet>true<x/></Quiet>", "<Quiet>1<x/>x</Quiet>", "<Quiet>true</Quiet><Quiet>false</Quiet>"],
)
def test_a_quiet_holding_an_element_or_given_twice_is_malformed(quiet: str) -> None:
    with pytest.raises(S3Error) as raised:
        parse_delete_entries(f"<Delete>{quiet}{OBJECT}</Delete>".encode())
    assert raised.value.code is S3ErrorCode.MalformedXML


@pytest.mark.parametrize(
    ("quiet", "read"), [("", False), ("<Quiet> true </Quiet>", True), ("<Quiet>0</Quiet>", False)]
)
def test_a_plain_quiet_is_read_as_before(quiet: str, read: bool) -> None:
    assert parse_delete_entries(f"<Delete>{quiet}{OBJECT}</Delete>".encode())[0] is read


def test_an_object_ownership_holding_an_element_is_malformed() -> None:
    body = (
        "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced<x/>"
        "</ObjectOwnership></Rule></OwnershipControls>"
    )
    with pytest.raises(S3Error) as raised:
        parse_ownership_controls(body.encode())
    assert raised.value.code is S3ErrorCode.MalformedXML
    plain = body.replace("<x/>", "")
    assert parse_ownership_controls(plain.encode()) == "BucketOwnerEnforced"
