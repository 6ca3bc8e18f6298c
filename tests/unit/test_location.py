"""CreateBucketConfiguration: what LocationConstraint is accepted, what is refused and how."""

from __future__ import annotations

import pytest

from s3proxy.errors import S3Error
from s3proxy.location import check_location_constraint
from s3proxy.xmlcodec import location_xml, parse_create_bucket_body

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def body(inner: str, ns: bool = True) -> bytes:
    xmlns = f' xmlns="{NS}"' if ns else ""
    return f"<CreateBucketConfiguration{xmlns}>{inner}</CreateBucketConfiguration>".encode()


@pytest.mark.parametrize(
    ("raw", "constraint"),
    [
        (b"", None),
        (b"  \n", None),
        (body(""), None),
        (body("<LocationConstraint></LocationConstraint>"), None),
        (body("<LocationConstraint/>", ns=False), None),
        (body("<LocationConstraint>eu-west-1</LocationConstraint>"), "eu-west-1"),
        (body("<LocationConstraint> EU </LocationConstraint>", ns=False), "EU"),
    ],
)
def test_constraint_is_read(raw: bytes, constraint: str | None) -> None:
    assert parse_create_bucket_body(raw) == constraint


@pytest.mark.parametrize(
    ("inner", "code"),
    [
        ("<Location><Type>AvailabilityZone</Type><Name>usw2-az1</Name></Location>",
         "NotImplemented"),
        ("<Bucket><Type>Directory</Type></Bucket>", "NotImplemented"),
        ("<Tags><Tag><Key>a</Key><Value>b</Value></Tag></Tags>", "NotImplemented"),
        ("<LocationConstraint>eu-west-1</LocationConstraint><Tags/>", "NotImplemented"),
        ("<Other>x</Other>", "MalformedXML"),
        ("<LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint>",
         "MalformedXML"),
        ("<LocationConstraint><x/></LocationConstraint>", "MalformedXML"),
    ],
)  # fmt: skip
def test_other_elements_are_refused(inner: str, code: str) -> None:
    with pytest.raises(S3Error) as caught:
        parse_create_bucket_body(body(inner))
    assert caught.value.code.name == code


@pytest.mark.parametrize("raw", [b"<NotAConfiguration/>", b"<CreateBucketConfiguration>"])
def test_malformed_body(raw: bytes) -> None:
    with pytest.raises(S3Error) as caught:
        parse_create_bucket_body(raw)
    assert caught.value.code.name == "MalformedXML"


@pytest.mark.parametrize(
    ("constraint", "region"),
    [(None, "us-east-1"), (None, "eu-central-1"), ("us-east-2", "us-east-2"),
     ("eu-west-1", "eu-west-1"), ("EU", "eu-west-1"), ("garage", "garage")],
)  # fmt: skip
def test_the_served_region_or_none_is_accepted(constraint: str | None, region: str) -> None:
    check_location_constraint(constraint, region)


@pytest.mark.parametrize(
    ("constraint", "region"),
    [("eu-west-1", "us-east-1"), ("EU", "us-east-1"), ("us-gov-west-1", "us-east-1"),
     ("us-east-2", "garage"), ("ap-southeast-7", "eu-west-1")],
)  # fmt: skip
def test_another_region_is_illegal_for_this_endpoint(constraint: str, region: str) -> None:
    with pytest.raises(S3Error) as caught:
        check_location_constraint(constraint, region)
    error = caught.value
    assert (error.status, error.code.name) == (400, "IllegalLocationConstraintException")
    assert error.message == (
        f"The {constraint} location constraint is incompatible for the region specific "
        "endpoint this request was sent to."
    )


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
@pytest.mark.parametrize(
    "constraint", ["US", "us-east-1", "moon-base", "EU-WEST-1", "eu_west_1", "<x>"]
)
def test_a_value_that_is_no_region_is_invalid(constraint: str, region: str) -> None:
    """us-east-1 included: S3 spells it by sending no constraint, and answers this to one that
    names it, on its us-east-1 endpoint too."""
    with pytest.raises(S3Error) as caught:
        check_location_constraint(constraint, region)
    error = caught.value
    assert (error.status, error.code.name) == (400, "InvalidLocationConstraint")
    assert error.fields == {"LocationConstraint": constraint}


@pytest.mark.parametrize(("region", "text"), [("us-east-1", ""), ("eu-west-1", "eu-west-1")])
def test_get_bucket_location_names_the_served_region(region: str, text: str) -> None:
    assert location_xml(region).endswith(
        f'<LocationConstraint xmlns="{NS}">{text}</LocationConstraint>'.encode()
    )
