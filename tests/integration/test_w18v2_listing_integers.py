"""ListParts' ``max-parts`` and ``part-number-marker`` and ListMultipartUploads' ``max-uploads``
past S3's 32-bit integer are 400 InvalidArgument "Provided <name> not an integer or within
integer range" (wave 18, V2), as ``max-keys`` already was here.

versitygw's ListParts_invalid_part_number_marker (run against S3) sends
``part-number-marker=2736457823532448723``: the gateway answered 200 and echoed
``<PartNumberMarker>1000000000000000000</PartNumberMarker>``, a marker the client never sent
(numbers past 18 digits read as 10**18, s3proxy.digits). 2**31 - 1 is still a number: a
``max-*`` that large is served, capped at 1,000.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy, client_for
from tests.integration.test_w10b_multipart_checksums import BUCKET

pytestmark = pytest.mark.integration

PAST = ("2147483648", "2736457823532448723")


def _sending(proxy: Proxy, operation: str, query: str) -> Any:
    """A client of alice's of its own that adds ``query`` raw to ``operation``'s (botocore's
    model holds these as integers and would refuse the values)."""
    s3 = client_for(proxy.endpoint, *proxy.keys("alice"))

    def append(request: Any, **_: Any) -> None:
        request.url += query

    s3.meta.events.register_first(f"before-sign.s3.{operation}", append)
    return s3


def _refused(call: Any) -> tuple[int, str, str, str | None]:
    with pytest.raises(ClientError) as refused:
        call()
    answer = refused.value.response
    error = answer["Error"]
    return (
        answer["ResponseMetadata"]["HTTPStatusCode"],
        error["Code"],
        error["Message"],
        error.get("ArgumentValue"),
    )


@pytest.mark.one_lane  # refused while parsing the query, before any listing
@pytest.mark.parametrize("name", ["max-parts", "part-number-marker"])
@pytest.mark.parametrize("value", PAST)
def test_list_parts_numbers_past_32_bits_are_refused(proxy: Proxy, name: str, value: str) -> None:
    s3 = proxy.client("alice")
    ids = {"Bucket": BUCKET, "Key": "w18v2/listing-integers"}
    upload = s3.create_multipart_upload(**ids)["UploadId"]
    sent = _sending(proxy, "ListParts", f"&{name}={value}")
    assert _refused(lambda: sent.list_parts(**ids, UploadId=upload)) == (
        400,
        "InvalidArgument",
        f"Provided {name} not an integer or within integer range",
        value,
    )
    s3.abort_multipart_upload(**ids, UploadId=upload)


@pytest.mark.one_lane
@pytest.mark.parametrize("value", PAST)
def test_max_uploads_past_32_bits_is_refused(proxy: Proxy, value: str) -> None:
    sent = _sending(proxy, "ListMultipartUploads", f"&max-uploads={value}")
    assert _refused(lambda: sent.list_multipart_uploads(Bucket=BUCKET)) == (
        400,
        "InvalidArgument",
        "Provided max-uploads not an integer or within integer range",
        value,
    )


@pytest.mark.one_lane
def test_the_largest_32_bit_numbers_are_served(proxy: Proxy) -> None:
    s3 = proxy.client("alice")
    ids = {"Bucket": BUCKET, "Key": "w18v2/listing-integers-largest"}
    upload = s3.create_multipart_upload(**ids)["UploadId"]
    s3.upload_part(**ids, UploadId=upload, PartNumber=1, Body=b"one")
    sent = _sending(proxy, "ListParts", "&max-parts=2147483647")
    page = sent.list_parts(**ids, UploadId=upload)
    assert (page["MaxParts"], [p["PartNumber"] for p in page["Parts"]]) == (1000, [1])
    s3.abort_multipart_upload(**ids, UploadId=upload)
