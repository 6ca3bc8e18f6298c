import xml.etree.ElementTree as ET

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.xmlcodec import error_xml


def test_error_table_statuses_follow_s3() -> None:
    assert S3ErrorCode.NoSuchKey.status == 404
    assert S3ErrorCode.SignatureDoesNotMatch.status == 403
    assert S3ErrorCode.InvalidRange.status == 416
    assert S3ErrorCode.NotImplemented.status == 501
    assert S3ErrorCode.MissingContentLength.status == 411
    assert S3ErrorCode.PreconditionFailed.status == 412


def test_error_xml_document() -> None:
    error = S3Error(S3ErrorCode.NoSuchKey, Key="a<&>b")
    root = ET.fromstring(error_xml(error, "REQ123"))
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Message") == "The specified key does not exist."
    assert root.findtext("Key") == "a<&>b"
    assert root.findtext("RequestId") == "REQ123"


def test_custom_message_is_escaped() -> None:
    root = ET.fromstring(error_xml(S3Error(S3ErrorCode.InvalidArgument, "x < y"), "R"))
    assert root.findtext("Message") == "x < y"
